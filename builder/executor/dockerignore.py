"""`.dockerignore` patterns with Docker's rules: `*`, `?`, `[...]`, `**` for any number of
directories, `!` exceptions, the last matching pattern wins, and a pattern that matches
a directory matches everything below it."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from ..errors import CairnError


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    exclude: bool  # False for a `!` exception


def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                cls = pattern[i + 1:end]
                if cls.startswith("^") or cls.startswith("!"):
                    cls = "^" + cls[1:]
                out.append("[" + cls.replace("\\\\", "\\\\\\\\") + "]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"(?:/.*)?\Z", re.DOTALL)


class DockerignoreError(CairnError):
    pass


def parse_dockerignore(text: str, source: str = ".dockerignore") -> list[Pattern]:
    """Raises DockerignoreError for `!` without a pattern (as Docker does)."""
    patterns = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        if not exclude:
            line = line[1:].strip()
            if not line:
                raise DockerignoreError(f'{source}:{number}: illegal exclusion pattern: "!"')
        line = posixpath.normpath(line).lstrip("/")
        if line in (".", ""):
            continue
        patterns.append(Pattern(_compile(line), exclude))
    return patterns


def is_ignored(path: str, patterns: list[Pattern]) -> bool:
    """`path` is relative to the context root, '/'-separated."""
    ignored = False
    for p in patterns:
        if p.regex.match(path):
            ignored = p.exclude
    return ignored


def excluded(rel: str, patterns: list[Pattern]) -> bool:
    """Whether COPY --exclude patterns exclude rel: they are relative to the COPY's source,
    which is one of rel's ancestors (or the root)."""
    parts = rel.split("/")
    return any(is_ignored("/".join(parts[i:]), patterns) for i in range(len(parts)))
