"""Every row of issue 17's table in one run, interleaved: where users wait on cairn.

Rows (medians of --runs, seconds or ms), each beside its reference:
  deps-then-src no-op / no-op again / one-file edit   against BuildKit (docker build)
  big tree (COPY . /app + RUN reading it) no-op / one-file edit   against BuildKit
  cairn run --rm --network none IMAGE true     against runc run (same rootfs)
  cairn run --rm IMAGE true (bridge)           against docker run --rm
and the floors: python -c pass, python -c 'import click', cairn --help, find's stat of the
big tree. Each round runs every row once, in turn, so that load on the machine falls on
all sides alike. With --before DIR (a checkout of cairn, e.g. a git worktree of an older
commit) the same rows also run that cairn, with its own store: before and after side by side.

Both cairns run from their source trees (their own directory first on sys.path), byte-compiled
first, as an installed cairn is. BuildKit and docker run in a private dockerd (own --data-root and
socket under the temp dir), stopped at the end; run it under the container lock:

    flock /tmp/cairn-container-tests.lock python benchmarks/startup.py [--runs 3]
        [--files 20000] [--mb 500] [--before DIR]          (as root)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _tree_bench import busybox_rootfs, tree_args, work_dir
from _dockerd import load_base_image, start_dockerd, stop_dockerd
from build import workloads
from cache import floor_stat
from run_latency import BRIDGE, SUBNET, runc_bundle, timed

REPO = Path(__file__).resolve().parents[1]
GOALS = {  # row -> (goal on cairn / reference, what the reference is)
    "deps-then-src no-op": (0.8, "BuildKit"),
    "deps-then-src no-op again": (0.8, "BuildKit"),
    "deps-then-src one-file edit": (0.7, "BuildKit"),
    "big tree no-op": (0.5, "BuildKit"),
    "big tree one-file edit": (0.6, "BuildKit"),
    "run --network none true": (4.0, "runc run"),
    "run true (bridge)": (0.4, "docker run"),
}


class Cairn:
    """One cairn source tree with its own store."""

    def __init__(self, name: str, tree: Path, store: Path):
        self.name, self.tree = name, tree
        self.env = dict(os.environ, CAIRN_ROOT=str(store), CAIRN_BRIDGE=BRIDGE, CAIRN_SUBNET=SUBNET,
                        PYTHONPATH=str(tree))
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-m", "compileall", "-q", "builder", "grammar", "runtime"], cwd=tree,
                       check=True, stdout=subprocess.DEVNULL)

    def cmd(self, *args: str) -> list[str]:
        code = f"import sys; sys.path.insert(0, {str(self.tree)!r}); from builder.cli import main; sys.exit(main())"
        return [sys.executable, "-c", code, *args]

    def time(self, *args: str) -> float:
        return timed(self.cmd(*args), self.env)

    def run(self, *args: str) -> None:
        subprocess.run(self.cmd(*args), env=self.env, check=True, stdout=subprocess.DEVNULL)

    def script(self, where: Path) -> str:
        """An executable `cairn` of this tree, for the helpers that take one."""
        path = where / f"cairn-{self.name}"
        path.write_text(f"#!/bin/sh\nPYTHONPATH={self.tree} exec {sys.executable} -m builder.cli \"$@\"\n")
        path.chmod(0o755)
        return str(path)


def main() -> None:
    args = tree_args(__doc__, 3, before=True)
    work = work_dir("startup", args.dir)
    dockerd = None
    try:
        rootfs = busybox_rootfs(work)
        loads = workloads(work / "w", args.files, args.mb)
        deps, big = loads["deps-then-src"], loads["big-tree"]
        (big / "Dockerfile").write_text("FROM busybox:local\nCOPY . /app\nRUN find /app -type f | wc -l > /count\n")
        cairns = [Cairn("after", REPO, work / "store-after")]
        if args.before:
            cairns.insert(0, Cairn("before", Path(args.before).resolve(), work / "store-before"))
        for c in cairns:
            c.run("import", str(rootfs), "busybox:local")
        bundle = runc_bundle(work / "bundle", rootfs)
        dockerd, denv = start_dockerd(work / "docker")
        if dockerd is not None:
            load_base_image(cairns[-1].script(work), cairns[-1].env, denv, work)
            denv = dict(denv, DOCKER_BUILDKIT="1")

        rows: dict[str, dict[str, list[float]]] = {}

        def add(row: str, side: str, seconds: float) -> None:
            rows.setdefault(row, {}).setdefault(side, []).append(seconds)

        def docker(*a: str) -> float:
            return timed(["/usr/bin/docker", *a], denv)

        def builds(row: str, ctx: Path, change) -> None:
            change()
            for c in cairns:
                add(row, c.name, c.time("build", "--progress", "quiet", str(ctx)))
            if dockerd is not None:
                add(row, "reference", docker("build", "-q", str(ctx)))

        edits = iter(range(1, 1 << 30))

        def edit(ctx: Path):
            target = next(p for p in sorted((ctx / "src").rglob("*")) if p.is_file())
            return lambda: target.write_bytes(b"edited %d\n" % next(edits))

        # warm-up: cold builds, base unpacked, bridge made, page cache filled (not counted)
        for c in cairns:
            c.time("build", "--progress", "quiet", str(deps))
            c.time("build", "--progress", "quiet", str(big))
            c.time("run", "--rm", "busybox:local", "true")
        if dockerd is not None:
            docker("build", "-q", str(deps))
            docker("build", "-q", str(big))
            docker("run", "--rm", "busybox:local", "true")
        for i in range(args.runs):
            add("python -c pass", "reference", timed([sys.executable, "-c", "pass"]))
            add("python -c 'import click'", "reference", timed([sys.executable, "-c", "import click"]))
            for c in cairns:
                add("cairn --help", c.name, c.time("--help"))
            add("find stat of the big tree", "reference", floor_stat(big))
            builds("deps-then-src no-op", deps, lambda: None)  # (the first rebuild after an edit's)
            builds("deps-then-src no-op again", deps, lambda: None)  # (cairn: the build memo answers it)
            builds("deps-then-src one-file edit", deps, edit(deps))
            builds("big tree no-op", big, lambda: None)
            builds("big tree one-file edit", big, edit(big))
            for c in cairns:
                add("run --network none true", c.name, c.time("run", "--rm", "--network", "none", "busybox:local",
                                                             "true"))
            add("run --network none true", "reference",
                timed(["runc", "--root", str(work / "runc-state"), "run", "--bundle", str(bundle), f"b{os.getpid()}-{i}"]))
            for c in cairns:
                add("run true (bridge)", c.name, c.time("run", "--rm", "busybox:local", "true"))
            if dockerd is not None:
                add("run true (bridge)", "reference", docker("run", "--rm", "busybox:local", "true"))
        _print(rows, [c.name for c in cairns], args, big)
    finally:
        if dockerd is not None:
            stop_dockerd(dockerd, work / "docker")
        sys.path.insert(0, str(REPO))
        from runtime.network import Bridge, remove_bridge

        remove_bridge(Bridge(BRIDGE, SUBNET))
        shutil.rmtree(work, ignore_errors=True)


def _print(rows: dict, sides: list[str], args, big: Path) -> None:
    fs = subprocess.run(["df", "--output=fstype", str(big)], check=False, capture_output=True, text=True).stdout.split()[-1]
    print(f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}; medians of {args.runs} interleaved rounds; "
          f"big tree {args.files} files / {args.mb} MB on {fs}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    head = f"{'row':<30}" + "".join(f"{'cairn ' + s:>14}" for s in sides) + f"{'reference':>14}  ratio  goal"
    print(head)
    for row, by_side in rows.items():
        med = {s: statistics.median(v) for s, v in by_side.items()}
        line = f"{row:<30}" + "".join(f"{_fmt(med.get(s)):>14}" for s in sides) + f"{_fmt(med.get('reference')):>14}"
        goal = GOALS.get(row)
        if goal and med.get("reference") and sides[-1] in med:
            ratio = med[sides[-1]] / med["reference"]
            line += f"  {ratio:5.2f}  <= {goal[0]} x {goal[1]}" + ("" if ratio <= goal[0] else "  (not met)")
        print(line)


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
