"""`.dockerignore` patterns with Docker's rules: `*`, `?`, `[...]`, `**` for any number of
directories, `!` exceptions, the last matching pattern wins, and a pattern that matches
a directory matches everything below it. An excluded directory that an exception may match
something below is walked into, and kept only when something below it is kept (`verdict`), as
BuildKit's context walker does."""

from __future__ import annotations

import posixpath
import re

from runtime.record import Record, record

from ..errors import CairnError


@record
class Pattern(Record):
    matcher: Matcher
    exclude: bool  # False for a `!` exception


# Token kinds: a character, any but '/', a [class], `*` (within a name), `**` (across
# names), and `**/`'s two states: skip it whole, or consume up to and with a '/'.
_LIT, _ANY, _CLASS, _STAR, _DSTAR, _OPT, _TO_SLASH = range(7)
_SETS_KEPT = 4096  # the state sets a pattern numbers and remembers the moves of


def _class_end(pattern: str, i: int) -> int:
    """Where the class opened at i closes: a ']' first in it (after any '^' or '!') is a
    member, as in a regex."""
    j = i + 1
    if pattern.startswith(("^", "!"), j):
        j += 1
    if pattern.startswith("]", j):
        j += 1
    return pattern.find("]", j)


def _tokens(pattern: str) -> list[tuple[int, object]]:
    out: list[tuple[int, object]] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out += [(_OPT, None), (_TO_SLASH, None)]
                i += 1
            else:
                out.append((_DSTAR, None))
            continue
        if ch == "*":
            out.append((_STAR, None))
        elif ch == "?":
            out.append((_ANY, None))
        elif ch == "[" and _class_end(pattern, i) != -1:
            end = _class_end(pattern, i)
            cls = pattern[i + 1:end]
            if cls.startswith(("^", "!")):
                cls = "^" + cls[1:]
            out.append((_CLASS, re.compile("[" + cls.replace("\\\\", "\\\\\\\\") + "]", re.DOTALL)))
            i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append((_LIT, pattern[i]))
        else:
            out.append((_LIT, ch))
        i += 1
    return out


class Matcher:
    """A pattern run as a small NFA over the path's characters: time linear in the path
    (times the pattern's length), whatever its stars. (A backtracking regex took 30 s for a
    250-character name against `*a*a*a*a*b`, and hours with one star more: a .dockerignore
    or --exclude could stall a build.) The sets of states met are numbered and their moves
    remembered as they are met (a lazy DFA, at most _SETS_KEPT sets), so the common paths
    cost one dict look-up a character. A match of the whole pattern may be followed by
    `/anything`: a directory's contents match too."""

    def __init__(self, pattern: str):
        self.tokens = _tokens(pattern)
        self.end, self.tail = len(self.tokens), len(self.tokens) + 1
        plain = all(kind == _LIT for kind, _ in self.tokens)
        self.literal = "".join(str(arg) for _, arg in self.tokens) if plain else None
        start = frozenset(self._close({0}))
        self.sets: list[frozenset[int]] = [start]
        self.numbers = {start: 0}
        self.table: list[dict[str, int]] = [{}]

    def _accepting(self, states) -> bool:
        return self.end in states or self.tail in states

    def _close(self, states: set[int]) -> set[int]:
        todo = list(states)
        while todo:
            i = todo.pop()
            if i >= self.end:
                continue
            kind = self.tokens[i][0]
            nxt = (i + 1,) if kind in (_STAR, _DSTAR) else (i + 1, i + 2) if kind == _OPT else ()
            for j in nxt:
                if j not in states:
                    states.add(j)
                    todo.append(j)
        return states

    def step(self, states, ch: str) -> set[int]:
        out: set[int] = set()
        for i in states:
            if i == self.tail:
                out.add(i)
                continue
            if i == self.end:
                if ch == "/":
                    out.add(self.tail)
                continue
            kind, arg = self.tokens[i]
            if kind == _LIT:
                if ch == arg:
                    out.add(i + 1)
            elif kind == _ANY:
                if ch != "/":
                    out.add(i + 1)
            elif kind == _CLASS:
                if arg.fullmatch(ch):
                    out.add(i + 1)
            elif kind == _STAR:
                if ch != "/":
                    out.add(i)
            elif kind == _DSTAR:
                out.add(i)
            elif kind == _TO_SLASH:
                out.add(i)
                if ch == "/":
                    out.add(i + 1)
        return self._close(out)

    def match(self, path: str) -> bool:
        if self.literal is not None:  # the common case (`node_modules`, `.git`): no states needed
            return path == self.literal or path.startswith(self.literal + "/")
        states = self._after(path)
        return bool(states) and self._accepting(states)

    def alive_after(self, prefix: str) -> bool:
        """Whether some path that starts with prefix could still match."""
        if self.literal is not None:
            return self.literal.startswith(prefix) or prefix.startswith(self.literal + "/")
        return bool(self._after(prefix))

    def _after(self, path: str) -> frozenset[int] | set[int]:
        """The states path leads to (empty: no path that starts with it matches)."""
        state, table = 0, self.table
        for k, ch in enumerate(path):
            nxt = table[state].get(ch)
            if nxt is None:
                nxt = self._learn(state, ch)
                if nxt is None:  # as many sets as are kept: the rest of this path set by set
                    return self._run(self.sets[state], path[k:])
            state = nxt
            if not self.sets[state]:
                break
        return self.sets[state]

    def _learn(self, state: int, ch: str) -> int | None:
        """The number of the set reached from `state` by ch, remembered; None when full."""
        nxt = frozenset(self.step(self.sets[state], ch))
        number = self.numbers.get(nxt)
        if number is None:
            if len(self.sets) >= _SETS_KEPT:
                return None
            number = self.numbers[nxt] = len(self.sets)
            self.sets.append(nxt)
            self.table.append({})
        self.table[state][ch] = number
        return number

    def _run(self, states, rest: str) -> set[int]:
        for ch in rest:
            states = self.step(states, ch)
            if not states:
                break
        return states


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
        try:
            patterns.append(Pattern(Matcher(line), exclude))
        except re.error as err:
            raise DockerignoreError(f"{source}:{number}: invalid pattern {line!r}: {err}") from None
    return patterns


def is_ignored(path: str, patterns: list[Pattern]) -> bool:
    """`path` is relative to the context root, '/'-separated."""
    ignored = False
    for p in patterns:
        if p.matcher.match(path):
            ignored = p.exclude
    return ignored


SKIP, KEEP, WALK = "skip", "keep", "walk"


def verdict(path: str, patterns: list[Pattern]) -> str:
    """What a walker does with the entry at path: KEEP it, SKIP it and all below it, or
    WALK into it (it is excluded, but an exception may match below it) and keep it only
    when something below it is kept."""
    if not is_ignored(path, patterns):
        return KEEP
    below = path + "/"
    if any(not p.exclude and p.matcher.alive_after(below) for p in patterns):
        return WALK
    return SKIP


def excluded(rel: str, patterns: list[Pattern], roots: tuple[str, ...] | None = None) -> bool:
    """Whether COPY --exclude patterns exclude rel. They are relative to the COPY source
    rel is in, as BuildKit matches them: given the sources' real paths (`roots`), the path
    below the nearest one (a source itself by its name: `--exclude=*.md` leaves a wildcard's
    README.md out); while the sources are still being chosen, below any of its ancestors."""
    for root in roots or ():
        if rel == root:
            return is_ignored(posixpath.basename(rel), patterns)
        if not root or rel.startswith(root + "/"):
            return is_ignored(rel[len(root) + 1:] if root else rel, patterns)
    parts = rel.split("/")
    return any(is_ignored("/".join(parts[i:]), patterns) for i in range(len(parts)))
