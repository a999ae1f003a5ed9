"""Which entries a COPY source names in a source tree (the build context, or the merged view
of a stage or image), with BuildKit's rules:

- a wildcard (`*`, `?`, `[...]`, `\\` escapes) may stand in any component, a directory's
  name too (`/a/*/b`); each component matches one name, and a wildcard that matches
  nothing names nothing (no error);
- COPY --parents: `base/./pattern` splits at the first `/./` (without one, the base is the
  root). The base may hold wildcards and names the directories to copy from; below each,
  the pattern (where `**` stands for any number of directories) selects what is copied,
  with the directories between the base and it, and everything below a matching
  directory. Without any wildcard, the named path must exist.

A tree is read only through its own methods (listdir, lstat, is_dir, resolve_links,
ignored), which resolve every path inside the tree: a link in the base or a directory is
followed inside the tree, never on the host, and the walk below a base descends only into
real directories. Names are matched one component at a time against a small state set,
so a pattern's cost is linear in the entries walked, whatever its stars.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re

from ..errors import CairnError


def has_wildcard(text: str) -> bool:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in "*?[":
            return True
        i += 1
    return False


def _unescape(part: str) -> str:
    return re.sub(r"\\(.)", r"\1", part)


@functools.lru_cache(maxsize=512)
def _component(pattern: str) -> re.Pattern[str]:
    """One path component's pattern (Go's filepath.Match syntax) as a regex; fnmatch's
    translation does not backtrack exponentially on many stars."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append("[" + pattern[i + 1] + "]" if pattern[i + 1] in "*?[]!" else pattern[i + 1])
            i += 2
            continue
        if ch == "[" and pattern.startswith("[^", i):
            out.append("[!")
            i += 2
            continue
        out.append(ch)
        i += 1
    return re.compile(fnmatch.translate("".join(out)))


def match_name(pattern: str, name: str) -> bool:
    return _component(pattern).match(name) is not None


def clean(path: str) -> str:
    """A source path as a tree-relative path: normalised, `..` stopped at the root."""
    rel = posixpath.normpath("/" + path).lstrip("/")
    return "" if rel == "." else rel


def _join(a: str, b: str) -> str:
    return f"{a}/{b}" if a and b else a or b


def _real_dir(tree, named: str) -> str | None:
    """The tree-relative real path of the directory `named` names (links followed inside
    the tree), or None when it is not a directory."""
    try:
        real = tree.resolve_links(named) if named else ""
    except (CairnError, OSError):
        return None
    return real if tree.is_dir(real) else None


def expand(tree, rel: str) -> list[str]:
    """The paths (as named, links unresolved) that rel, cleaned, with wildcards in any of
    its components, matches in the tree; sorted. A path without wildcards is returned as is."""
    parts = [p for p in rel.split("/") if p]
    found = [""]
    for part in parts:
        if not has_wildcard(part):
            found = [_join(cur, _unescape(part)) for cur in found]
            continue
        nxt = []
        for cur in found:
            real = _real_dir(tree, cur)
            if real is None:
                continue
            for name in tree.listdir(real):
                if match_name(part, name) and not tree.ignored(_join(real, name)):
                    nxt.append(_join(cur, name))
        found = nxt
    return sorted(found)


class _Pattern:
    """A --parents pattern, one component at a time: a state is how many of its components
    the path so far has matched; `**` matches any number of components."""

    def __init__(self, pattern: str):
        self.parts = [p for p in pattern.split("/") if p]

    def _close(self, states: frozenset[int]) -> frozenset[int]:
        out = set(states)
        for i in sorted(states):
            while i < len(self.parts) and self.parts[i] == "**":
                i += 1
                out.add(i)
        return frozenset(out)

    def start(self) -> frozenset[int]:
        return self._close(frozenset({0}))

    def step(self, states: frozenset[int], name: str) -> frozenset[int]:
        out = set()
        for i in states:
            if i < len(self.parts):
                if self.parts[i] == "**":
                    out.add(i)
                elif match_name(self.parts[i], name):
                    out.add(i + 1)
        return self._close(frozenset(out))

    def matched(self, states: frozenset[int]) -> bool:
        return len(self.parts) in states


def split_pivot(src: str) -> tuple[str, str]:
    """(base, pattern) of a COPY --parents source: split at its first `/./`; without one
    the base is the root and the whole source is the pattern."""
    base, sep, pattern = src.partition("/./")
    return (base, pattern) if sep else ("/", src)


def parents_select(tree, src: str, bases: list[str] | None = None) -> list[tuple[str, str]]:
    """COPY --parents: (base directory's real path, path below it) for every entry `src`
    copies, in order; the path below the base is what is recreated under the destination.
    The base directories found are added to `bases` (the destination is made when there is
    one, even if nothing below it matches, as in BuildKit)."""
    base_text, pattern_text = split_pivot(src)
    base, pattern = tree.clean(base_text), tree.clean(pattern_text)  # (the context refuses `..` out of it)
    if not has_wildcard(base) and not has_wildcard(pattern):
        tree.select(_join(base, pattern))  # must exist (the tree's own "not found" error)
    out: list[tuple[str, str]] = []
    for named in expand(tree, base):
        real = _real_dir(tree, named)
        if real is not None:
            if bases is not None:
                bases.append(real)
            out += [(real, rel) for rel in _walk(tree.rooted((real,)), real, _Pattern(pattern))]
    return out


def _walk(tree, base: str, pattern: _Pattern) -> list[str]:
    """Paths below base that the pattern matches, each taken whole (its subtree with it);
    only real directories are entered, and only while the pattern can still match."""
    if not pattern.parts:
        return [name for name in tree.listdir(base) if not tree.ignored(_join(base, name))]
    out: list[str] = []
    stack = [("", pattern.start())]
    while stack:
        rel, states = stack.pop()
        for name in tree.listdir(_join(base, rel)):
            child = _join(rel, name)
            if tree.ignored(_join(base, child)):
                continue
            nxt = pattern.step(states, name)
            if pattern.matched(nxt):
                out.append(child)
            elif nxt and tree.is_dir(_join(base, child)):
                stack.append((child, nxt))
    return sorted(out)
