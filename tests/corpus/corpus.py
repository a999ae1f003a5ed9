"""The corpus of application builds: its table (apps.toml), and building an app with cairn or
with BuildKit (`docker build`) while reading which steps hit.

Hits are compared as a pattern: one letter per RUN/COPY/ADD step of the built stages, in
Dockerfile order, H for a cache hit and M for a miss, a space between stages ("HHM MH").
cairn's come from `--metadata-file`; BuildKit's from `--progress=plain`, whose step lines read
`#N [stage i/n] COPY ...` and whose hits read `#N CACHED`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import grammar

from . import bases

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
REPO = HERE.parents[1]
COUNTED = ("RUN", "COPY", "ADD")
REGISTRIES = ("http://deb.debian.org/debian/dists/bookworm/Release", "https://pypi.org/simple/six/",
              "https://registry.npmjs.org/ms")

_STEP = re.compile(r"^#(\d+) \[(?:(\S+) +)?(?<![^\[ ])\s*(\d+)/\d+\] (\S+)")  # "[stage  3/15] RUN"
_CACHED = re.compile(r"^#(\d+) CACHED$")


@dataclass(frozen=True)
class Stage:
    label: str  # as cairn labels it: the stage's name, or its index
    base: str  # the FROM reference, build args expanded
    steps: tuple[str, ...]  # the original text of each instruction after FROM


@dataclass(frozen=True)
class App:
    name: str
    edit: dict
    hits: str
    output: str
    cold: str | None = None
    run: tuple[str, ...] = ()
    build_args: tuple[str, ...] = ()
    registries: bool = False
    xfail: str | None = None

    @property
    def dir(self) -> Path:
        return APPS / self.name

    @property
    def tag(self) -> str:
        return f"corpus/{self.name}:latest"

    @property
    def cold_hits(self) -> str:
        return self.cold or self.hits.replace("H", "M")

    def stages(self) -> list[Stage]:
        tree = grammar.parse((self.dir / "Dockerfile").read_bytes())
        meta, stages = {}, []
        for ins in tree.instructions:
            if ins.keyword == "FROM":
                base = grammar.expand_words(ins.args[0], meta)[0]
                name = ins.args[2] if len(ins.args) == 3 else str(len(stages))
                stages.append(Stage(name, base, ()))
            elif stages:
                stages[-1] = Stage(stages[-1].label, stages[-1].base, stages[-1].steps + (ins.original,))
            elif ins.keyword == "ARG":
                meta.update(a.split("=", 1) for a in ins.args if "=" in a)
        return stages

    def bases(self) -> list[str]:
        """The stand-in base images this app's stages start from (by their canonical name)."""
        refs = {s.base for s in self.stages()}
        return sorted(b.ref for b in bases.BASES.values() if refs & {b.ref, *b.aliases})


def load_apps() -> list[App]:
    table = tomllib.loads((HERE / "apps.toml").read_text())
    apps = [App(name, t["edit"], t["hits"], t["output"], t.get("cold"), tuple(t.get("run", ())),
                tuple(t.get("build_args", ())), t.get("registries", False), t.get("xfail"))
            for name, t in table.items()]
    missing = {p.name for p in APPS.iterdir() if p.is_dir()} - {a.name for a in apps}
    assert not missing, f"apps without a row in apps.toml: {sorted(missing)}"
    return apps


def registries_unreachable() -> str | None:
    """Why the package registries cannot be reached from here (None when they can): a quick probe."""
    for url in REGISTRIES:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=5):
                pass
        except Exception as err:  # any failure means "no network" for these tests
            return f"the package registries are unreachable ({url}: {err})"
    return None


def copy_context(app: App, dest: Path) -> Path:
    shutil.copytree(app.dir, dest, symlinks=True)
    return dest


def apply_edit(ctx: Path, edit: dict) -> None:
    """Replace the one line holding edit['old'] in edit['file'] by the line with edit['new']."""
    path = ctx / edit["file"]
    text = path.read_text()
    assert text.count(edit["old"]) == 1, f"{edit['file']} must hold {edit['old']!r} once"
    path.write_text(text.replace(edit["old"], edit["new"]))


def pattern(steps: list[tuple[str, str, bool]], labels: list[str]) -> str:
    """'HHM MH' from (stage label, keyword, cached) of each counted step, stages in file order."""
    groups = {label: "" for label in labels}
    for label, keyword, cached in steps:
        if keyword.upper() in COUNTED:
            groups[label] += "H" if cached else "M"
    return " ".join(g for g in groups.values() if g)


def cairn_pattern(metadata: dict, stages: list[Stage]) -> str:
    return pattern([(s["stage"], s["instruction"].split(None, 1)[0], s["cached"]) for s in metadata["steps"]],
                   [s.label for s in stages])


def _counted(steps) -> int:
    return sum(1 for text in steps if text.split(None, 1)[0].upper() in COUNTED)


@dataclass(frozen=True)
class Shared:
    twin: str  # the earlier stage whose steps these are
    vertices: int  # BuildKit's step numbers 1..vertices (FROM included) are the twin's
    counted: int  # how many RUN/COPY/ADD steps that is


def shared_steps(stages: list[Stage]) -> dict[str, Shared]:
    """The stages whose first steps are an earlier stage's own (the same base and the same
    instructions): BuildKit runs and shows those once, under either stage's name."""
    shared = {}
    for i, stage in enumerate(stages):
        for earlier in stages[:i]:
            if earlier.base != stage.base:
                continue
            n = 0
            while n < min(len(stage.steps), len(earlier.steps)) and stage.steps[n] == earlier.steps[n]:
                n += 1
            prefix = stage.steps[:n]
            vertices = 1 + sum(1 for text in prefix if text.split(None, 1)[0].upper() in (*COUNTED, "WORKDIR"))
            if _counted(prefix) > (shared[stage.label].counted if stage.label in shared else 0):
                shared[stage.label] = Shared(earlier.label, vertices, _counted(prefix))
    return shared


def buildkit_pattern(output: str, stages: list[Stage]) -> str:
    """The hit pattern of a `docker build --progress=plain` log. BuildKit names a stage by its
    name, `stage-N` when it has none, and leaves the name out when the build has one stage.
    A step it merged with an earlier stage's is the earlier stage's, and a hit in the later
    one, as cairn counts it."""
    labels = [s.label for s in stages]
    shared = shared_steps(stages)
    found: dict[str, tuple[str, int, str]] = {}
    cached: set[str] = set()
    for line in output.splitlines():
        m = _STEP.match(line)
        if m and m.group(1) not in found:
            label = m.group(2) or labels[-1]
            label = label.removeprefix("stage-") if label.startswith("stage-") else label
            index = int(m.group(3))
            if label in shared and index <= shared[label].vertices:
                label = shared[label].twin
            found[m.group(1)] = (label, index, m.group(4))
        elif (m := _CACHED.match(line)):
            cached.add(m.group(1))
    ordered = sorted(found.items(), key=lambda kv: (labels.index(kv[1][0]), kv[1][1]))
    merged = [(label, "RUN", True) for label, sh in shared.items() for _ in range(sh.counted)]
    return pattern(merged + [(label, keyword, n in cached) for n, (label, _, keyword) in ordered], labels)


class Cairn:
    """The cairn CLI on one store (this checkout's code)."""

    def __init__(self, root: Path):
        self.root = root
        self.cmd = [sys.executable, "-m", "builder.cli"]
        self.env = dict(os.environ, CAIRN_ROOT=str(root))

    def __call__(self, *args: str, timeout: int = 900, check: bool = True) -> subprocess.CompletedProcess:
        res = subprocess.run([*self.cmd, *args], cwd=REPO, env=self.env, capture_output=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"cairn {' '.join(args)} exited {res.returncode}:\n"
                                 f"{res.stderr.decode(errors='replace')[-4000:]}")
        return res

    def import_bases(self, refs) -> None:
        for ref in refs:
            bases.import_into(self.cmd, self.env, ref)

    def build(self, app: App, ctx: Path, metadata: Path) -> tuple[float, dict]:
        args = [a for v in app.build_args for a in ("--build-arg", v)]
        t0 = time.monotonic()
        self("build", "--progress", "plain", "-t", app.tag, "--metadata-file", str(metadata), *args, str(ctx))
        return time.monotonic() - t0, json.loads(metadata.read_text())


class BuildKit:
    """`DOCKER_BUILDKIT=1 docker build` against one (private) engine. RUN steps use the host's
    network, as cairn's do: the private engine sets up no NAT for its bridge."""

    def __init__(self, env: dict, docker: str = "/usr/bin/docker"):
        self.env = dict(env, DOCKER_BUILDKIT="1")
        self.docker = docker

    def __call__(self, *args: str, timeout: int = 900, check: bool = True) -> subprocess.CompletedProcess:
        res = subprocess.run([self.docker, *args], env=self.env, capture_output=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {res.returncode}:\n"
                                 f"{(res.stderr + res.stdout).decode(errors='replace')[-4000:]}")
        return res

    def load_bases(self, cairn: Cairn, refs, work: Path) -> None:
        """The same base images as the cairn store's: `cairn save` | `docker load`, aliases tagged."""
        for ref in refs:
            archive = work / f"{ref.replace(':', '_').replace('/', '_')}.tar"
            cairn("save", "-o", str(archive), ref)
            self("load", "-i", str(archive))
            archive.unlink()
            for alias in bases.BASES[ref].aliases:
                self("tag", ref, alias)

    def build(self, app: App, ctx: Path) -> tuple[float, str]:
        args = [a for v in app.build_args for a in ("--build-arg", v)]
        t0 = time.monotonic()
        res = self("build", "--network", "host", "--progress", "plain", "-t", app.tag, *args, str(ctx))
        return time.monotonic() - t0, (res.stderr + res.stdout).decode(errors="replace")

    def prune(self) -> None:
        self("builder", "prune", "-af")
