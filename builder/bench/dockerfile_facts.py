"""What the bench advice must know of the Dockerfile each replayed commit built: the context
paths its COPY, ADD and bind mounts name (never to be suggested for .dockerignore), and the
manifest-first split the cache rules write for a COPY (builder/checks: the one place that
knows the dependency manifests).

    read(dockerfile, context, build_args) -> Facts     (empty Facts for a Dockerfile that does not parse)
    Facts.needed_by(entry) -> (line, path) | None      the source that would break if `entry` were ignored
    Facts.line_of(text) -> line                        a step's line from its text (BuildKit names no line)
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

_SPLIT_RULES = ("CopyContextBeforeInstall", "ManifestCopiedWithSources")
_VARIABLE = re.compile(r"\$")


@dataclass(frozen=True)
class Facts:
    needs: tuple[tuple[int, str], ...] = ()   # (line, context path as written: wildcards, variables)
    splits: tuple[tuple[int, str], ...] = ()  # (COPY line, the lines to write: manifests first)
    lines: tuple[tuple[str, int], ...] = ()   # (RUN/COPY/ADD text, whitespace folded; its line)

    def needed_by(self, entry: str) -> tuple[int, str] | None:
        """The first source that reads `entry` (a context path, `docs/` or `README.md`) or
        something under it. A wildcard is matched name by name (`*` stays within a name); a
        name built from a variable may be anything, so it reads every path."""
        parts = [p for p in entry.strip("/").split("/") if p]
        if not parts:
            return None
        for line, path in self.needs:
            names = [p for p in path.split("/") if p]
            if not names:
                continue
            if all(_VARIABLE.search(n) or fnmatchcase(e, n) for n, e in zip(names, parts)):
                return line, path
        return None

    def line_of(self, instruction: str) -> int:
        """The line of a step known only by its text (BuildKit's replays), else 0."""
        folded = _fold(instruction)
        return next((line for text, line in self.lines if text == folded), 0)

    def split_at(self, line: int) -> str:
        return next((text for at, text in self.splits if at == line), "")


def read(dockerfile: Path, context: Path, build_args: tuple = ()) -> Facts:
    import grammar

    from ..checks import cache_rules
    from ..checks.inputs import ignore_matcher
    from ..errors import CairnError
    from ..instructions import parse_dockerfile

    try:
        plan = parse_dockerfile(grammar.parse(dockerfile.read_bytes()))
    except (grammar.DockerfileError, CairnError, OSError, ValueError):
        return Facts()
    needs = tuple((line, posixpath.normpath(path)) for line, path in cache_rules.context_sources(plan))
    findings = cache_rules.cache_findings(plan, cache_rules.CacheInput(
        str(context), ignore_matcher(str(context), str(dockerfile)), dict(build_args)))
    splits = tuple((f.line, f.fix) for f in findings if f.rule.name in _SPLIT_RULES)
    lines = tuple((_fold(cmd.original), cmd.start_line) for stage in plan.stages for cmd in stage.commands
                  if cmd.keyword.upper() in ("RUN", "COPY", "ADD"))
    return Facts(needs, splits, lines)


def _fold(text: str) -> str:
    return " ".join(text.replace("\\\n", " ").split())
