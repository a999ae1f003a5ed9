"""cairn's cache-aware rules (BuildKit has none about cache-hostile ordering): each finding
names the line that costs cache hits, why, and the lines to write instead.

    cache_findings(plan, CacheInput) -> [Finding]     run by `cairn check` and `build --check`

Only the Dockerfile and the context's top-level names are read (bounded), nothing is run."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import field

from runtime.record import Record, record

from ..instructions import types as t
from .installs import install_in, lone_update, run_text
from .rules import Finding, Rule
from .stage_rules import is_secret

COPY_CONTEXT_BEFORE_INSTALL = Rule(
    "CopyContextBeforeInstall", "Copying the whole context before a dependency install reruns the install on "
    "any source edit")
MANIFEST_COPIED_WITH_SOURCES = Rule(
    "ManifestCopiedWithSources", "A dependency manifest copied in the same COPY as sources reruns the install "
    "whenever a source changes")
VOLATILE_CONTEXT_PATH = Rule(
    "VolatileContextPath", "A path that changes on every commit or run (.git, caches) is copied into the image, "
    "so the COPY misses every time")
PER_BUILD_VALUE_EARLY = Rule(
    "PerBuildValueEarly", "An ARG or ENV that takes a new value each build (a date, a commit id) reruns every "
    "RUN after it")
APT_UPDATE_ALONE = Rule(
    "AptUpdateAlone", "A package index update in its own RUN is cached and goes stale under later installs")
ADD_REMOTE_WITHOUT_CHECKSUM = Rule(
    "AddRemoteWithoutChecksum", "ADD of a remote URL without --checksum is fetched on every build and not pinned")
EPOCH_STAMPS_WORKDIR = Rule(
    "SourceDateEpochPerCommit", "SOURCE_DATE_EPOCH set per commit is in every step's cache key: from the first "
    "WORKDIR on, each commit misses")
ALL = (COPY_CONTEXT_BEFORE_INSTALL, MANIFEST_COPIED_WITH_SOURCES, VOLATILE_CONTEXT_PATH, PER_BUILD_VALUE_EARLY,
       APT_UPDATE_ALONE, ADD_REMOTE_WITHOUT_CHECKSUM, EPOCH_STAMPS_WORKDIR)

# fixes for BuildKit's rules that `cairn check` also prints
FIXES = {"SecretsUsedInArgOrEnv": "pass it as a build secret: RUN --mount=type=secret,id=NAME ... "
                                  "(cairn build --secret id=NAME,src=FILE)"}

_VOLATILE = (".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox",
             ".venv", "node_modules", ".next", ".cache", ".idea", ".vscode", ".DS_Store", "coverage", ".coverage",
             "npm-debug.log", "yarn-error.log")
_PER_BUILD_NAME = re.compile(r"(?:^|_)(?:DATE|TIME|TIMESTAMP|COMMIT|SHA|REF|REVISION|BUILD_?NUMBER|BUILD_?ID|"
                             r"BUILD_?NUM|RUN_?ID|PIPELINE_?ID)(?:_|$)", re.IGNORECASE)
_PER_BUILD_VALUE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64}|\d{4}-\d{2}-\d{2}(?:[T ].*)?)$")
_EPOCH = "SOURCE_DATE_EPOCH"
_REMOTE = re.compile(r"^(?:https?://|git@|[a-z]+://)")
_TOP_LEVEL_LIMIT = 10000  # context entries read (an untrusted context may hold millions)


@record
class CacheInput(Record):
    context: str | None = None  # the context directory (None: a context that is not a directory)
    ignored: Callable[[str], bool] | None = None  # rel path -> excluded by .dockerignore
    build_args: dict = field(default_factory=dict)


def _rel(src: str) -> str:
    return posixpath.normpath("/" + src).lstrip("/")


def _whole_context(src: str) -> bool:
    return src in ("*", "./*", "/*") or posixpath.normpath("/" + src) == "/"


def _context_names(context: str | None) -> list[str]:
    if not context:
        return []
    names = []
    try:
        with os.scandir(context) as it:
            for i, entry in enumerate(it):
                if i >= _TOP_LEVEL_LIMIT:
                    break
                names.append(entry.name)
    except OSError:
        return []
    return names


def _from_context(cmd) -> bool:
    return isinstance(cmd, (t.Copy, t.Add)) and not getattr(cmd, "from_", "") and bool(cmd.sources)


def _manifest_lines(install, present: set[str], dest: str) -> list[str]:
    files = [f for f in install.manifests if f in present] or list(install.manifests[:2])
    target = dest if dest.endswith("/") else dest + "/"
    return [f"COPY {' '.join(files)} {target}"] if files else []


class _Stage:
    def __init__(self, given: CacheInput, present: set[str], needed: set[str]):
        self.given, self.present, self.needed = given, present, needed
        self.findings: list[Finding] = []

    def add(self, rule: Rule, line: int, detail: str, fix: str) -> None:
        self.findings.append(Finding(rule, line, detail, fix))

    def check(self, stage: t.Stage, epoch_per_build: bool) -> None:
        whole: list[t.Command] = []  # whole-context COPYs so far
        partial: list[t.Command] = []  # COPYs naming files
        go_downloaded = False
        per_build: list[tuple[t.Command, str, str]] = []  # (ARG/ENV, kind, name) not yet followed by a RUN
        epoch_reported = False
        for i, cmd in enumerate(stage.commands):
            if isinstance(cmd, (t.Arg, t.Env)):
                per_build += self._per_build(cmd)
            if isinstance(cmd, t.Workdir) and epoch_per_build and not epoch_reported:
                epoch_reported = True
                self.add(EPOCH_STAMPS_WORKDIR, cmd.start_line,
                         f"SOURCE_DATE_EPOCH changes with each commit, and WORKDIR {cmd.path} is stamped with it: "
                         "this step and every step after it miss on each commit",
                         "give SOURCE_DATE_EPOCH a value that moves only on a release (or the last commit that "
                         "changed the dependency manifests), or set it only for release builds")
            if isinstance(cmd, t.Add):
                self._remote_add(cmd)
            if _from_context(cmd):
                (whole if any(_whole_context(s) for s in cmd.sources) else partial).append(cmd)
                if any(_whole_context(s) for s in cmd.sources):
                    self._volatile(cmd)
            if not isinstance(cmd, t.Run):
                continue
            if per_build:
                self._report_per_build(per_build, cmd)
                per_build = []
            text = run_text(cmd)
            tool = lone_update(text)
            if tool:
                later = next((c for c in stage.commands[i + 1:] if isinstance(c, t.Run)
                              and install_in(run_text(c)) is not None and c.shell_form), None)
                then = " ".join(later.command) if later is not None else (
                    f"{tool} {'add' if tool == 'apk' else 'install -y'} PACKAGES")
                self.add(APT_UPDATE_ALONE, cmd.start_line,
                         f"`{tool} update` runs in a RUN of its own: its layer is reused from cache, so a later "
                         "install reads a stale package index (or fails on a removed package)",
                         f"update and install in one RUN: RUN {tool} update && {then}")
            install = install_in(text, go_downloaded)
            go_downloaded = go_downloaded or "go mod download" in text
            if install is None:
                continue
            mounted = {_rel(m.source) for m in cmd.mounts if m.type == "bind" and not m.from_}
            if install.manifests and set(install.manifests) & mounted:
                continue  # the manifests come in by a bind mount: nothing copied before it matters
            for copy in whole:
                self._copy_before(copy, cmd, install)
            whole = []
            for copy in partial:
                self._manifest_with_sources(copy, cmd, install)
            partial = []

    def _per_build(self, cmd) -> list[tuple[t.Command, str, str]]:
        if isinstance(cmd, t.Arg):
            pairs = [(d.name, d.default or "") for d in cmd.args]
        else:
            pairs = [(p.key, p.value) for p in cmd.pairs]
        out = []
        for name, value in pairs:
            if name == _EPOCH or is_secret(name):
                continue
            if _PER_BUILD_NAME.search(name) or _PER_BUILD_VALUE.match(value.strip()):
                out.append((cmd, cmd.keyword.upper(), name))
        return out

    def _report_per_build(self, pending, run: t.Run) -> None:
        for cmd, kind, name in pending:
            self.add(PER_BUILD_VALUE_EARLY, cmd.start_line,
                     f"{kind} {name} takes a new value on each build and comes before the RUN at line "
                     f"{run.start_line}: that RUN and each one after it miss on every build",
                     f"declare `{kind} {name}` after the last RUN, just before the instruction that uses it "
                     "(e.g. a LABEL at the end of the stage)")

    def _remote_add(self, cmd: t.Add) -> None:
        if cmd.checksum:
            return
        for src in cmd.sources:
            if src.startswith(("http://", "https://")):
                self.add(ADD_REMOTE_WITHOUT_CHECKSUM, cmd.start_line,
                         f"ADD {src} has no --checksum: it is downloaded on every build (its content is unknown "
                         "until fetched) and a changed file silently changes the image",
                         f"pin it: ADD --checksum=sha256:<sha256 of the file> {src} {cmd.dest}")

    def _volatile(self, cmd) -> None:
        ignored = self.given.ignored
        for name in sorted(self.present):
            if name not in _VOLATILE or name in self.needed or (ignored is not None and ignored(name)):
                continue
            self.add(VOLATILE_CONTEXT_PATH, cmd.start_line,
                     f"{cmd.keyword.upper()} {' '.join(cmd.sources)} {cmd.dest} picks up {name} from the context, which "
                     "changes without any source edit: this COPY and every step after it miss",
                     f"add `{name}` to .dockerignore")

    def _copy_before(self, copy, run: t.Run, install) -> None:
        sources = " ".join(copy.sources)
        if not install.manifests:
            self.add(COPY_CONTEXT_BEFORE_INSTALL, copy.start_line,
                     f"COPY {sources} {copy.dest} comes before `{install.tool}` at line {run.start_line}: any "
                     "source edit reruns the install",
                     f"move the RUN at line {run.start_line} above line {copy.start_line}")
            return
        lines = _manifest_lines(install, self.present, copy.dest)
        lines += [run.original.strip() or f"RUN {install.tool}", copy.original.strip()]
        self.add(COPY_CONTEXT_BEFORE_INSTALL, copy.start_line,
                 f"COPY {sources} {copy.dest} comes before `{install.tool}` at line {run.start_line}: any source "
                 f"edit reruns the install",
                 "copy the manifests first, then the sources:\n" + "\n".join(lines))

    def _manifest_with_sources(self, copy, run: t.Run, install) -> None:
        manifests = set(install.manifests)
        named = [s for s in copy.sources if _rel(s) in manifests]
        rest = [s for s in copy.sources if s not in named]
        if not named or not rest:
            return
        lines = [f"COPY {' '.join(named)} {copy.dest}", run.original.strip() or f"RUN {install.tool}",
                 f"COPY {' '.join(rest)} {copy.dest}"]
        self.add(MANIFEST_COPIED_WITH_SOURCES, copy.start_line,
                 f"COPY copies {', '.join(named)} together with {', '.join(rest)} before `{install.tool}` at line "
                 f"{run.start_line}: an edit of {rest[0]} reruns the install",
                 "copy the manifests on their own before the install:\n" + "\n".join(lines))


def _epoch_per_build(plan: t.DockerfilePlan, given: CacheInput) -> bool:
    if _EPOCH in given.build_args:
        return True
    args = list(plan.meta_args) + [c for s in plan.stages for c in s.commands if isinstance(c, t.Arg)]
    return any(d.name == _EPOCH for a in args for d in a.args)


def context_sources(plan: t.DockerfilePlan) -> list[tuple[int, str]]:
    """(line, path) of each context path a COPY, ADD or bind mount names itself (paths
    relative to the context, wildcards and variables as written): what must never be
    ignored. The whole context (`.`, `*`), URLs and sources from stages or images are left out."""
    out = []
    for stage in plan.stages:
        for cmd in stage.commands:
            if _from_context(cmd):
                out += [(cmd.start_line, _rel(s)) for s in cmd.sources
                        if not _whole_context(s) and not _REMOTE.match(s)]
            if isinstance(cmd, t.Run):
                out += [(cmd.start_line, _rel(m.source)) for m in cmd.mounts
                        if m.type == "bind" and not m.from_ and not _whole_context(m.source or ".")]
    return out


def _needed(plan: t.DockerfilePlan) -> set[str]:
    """The top-level context names a COPY, ADD or bind mount names itself (never to be ignored)."""
    return {path.split("/")[0] for _, path in context_sources(plan)}


def cache_findings(plan: t.DockerfilePlan, given: CacheInput) -> list[Finding]:
    present = set(_context_names(given.context))
    checker = _Stage(given, present, _needed(plan))
    epoch = _epoch_per_build(plan, given)
    for stage in plan.stages:
        checker.check(stage, epoch)
    return checker.findings
