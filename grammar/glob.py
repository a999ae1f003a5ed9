"""Shell patterns of `${v#p}`, `${v%p}` and `${v/p/r}` matched in time linear in the value.

A pattern has `*`, `?` and `\\` escapes (no brackets). A backtracking regex takes time
exponential in the number of stars on a value that nearly matches (`${V/*a*a*a*b/x}` on a
few hundred `a`s ran for seconds, on a few thousand for ever). Here a pattern is a small
NFA run bit-parallel (one bit per pattern position, a Python int): each character of the
value costs a few integer operations, whatever the pattern.

Matching follows what the regex did: `#`/`%` take the shortest or longest prefix/suffix,
`/` the leftmost match and, at that start, the longest.
"""

from __future__ import annotations

from .errors import ShellWordError

_STAR, _ANY, _LIT = "*", "?", "="


def tokens(pattern: str) -> list[tuple[str, str]]:
    """The pattern as (kind, char) tokens; consecutive stars are one star."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            if not out or out[-1][0] != _STAR:
                out.append((_STAR, ""))
        elif tok == "?":
            out.append((_ANY, ""))
        elif tok == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt in ("}", "/"):
                continue  # escaped to get past ${...} parsing; not part of the pattern
            if nxt not in ("*", "?", "\\"):
                raise ShellWordError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'")
            out.append((_LIT, nxt))
            i += 1
        else:
            out.append((_LIT, tok))
    return out


class Glob:
    """A bit-parallel NFA: bit i set = the match may continue at token i; bit len = matched."""

    def __init__(self, toks: list[tuple[str, str]]):
        self.star = self.any = 0
        self.lit: dict[str, int] = {}
        for i, (kind, ch) in enumerate(toks):
            bit = 1 << i
            if kind == _STAR:
                self.star |= bit
            elif kind == _ANY:
                self.any |= bit
            else:
                self.lit[ch] = self.lit.get(ch, 0) | bit
        self.accept = 1 << len(toks)
        self.start = self._close(1)

    def _close(self, s: int) -> int:
        return s | ((s & self.star) << 1)  # a star may match nothing (stars never follow stars)

    def step(self, s: int, ch: str) -> int:
        return self._close(((s & (self.lit.get(ch, 0) | self.any)) << 1) | (s & self.star))

    def prefix_end(self, text: str, start: int, longest: bool) -> int | None:
        """Where the shortest (or longest) match that begins at `start` ends; None: no match."""
        s = self.start
        found = start if s & self.accept else None
        if found is not None and not longest:
            return found
        for k in range(start, len(text)):
            s = self.step(s, text[k])
            if not s:
                break
            if s & self.accept:
                found = k + 1
                if not longest:
                    break
        return found


def trim_prefix(pattern: str, value: str, longest: bool) -> str:
    end = Glob(tokens(pattern)).prefix_end(value, 0, longest)
    return value if end is None else value[end:]


def trim_suffix(pattern: str, value: str, longest: bool) -> str:
    # The shortest/longest suffix is the shortest/longest prefix of the reversed value.
    end = Glob(tokens(pattern)[::-1]).prefix_end(value[::-1], 0, longest)
    return value if end is None else value[:len(value) - end]


def _match_starts(toks: list[tuple[str, str]], value: str) -> bytearray:
    """starts[p] = 1 where some match begins at p: the reversed pattern run leftwards over
    the value, with a fresh match begun at every position."""
    rev = Glob(toks[::-1])
    starts = bytearray(len(value) + 1)
    s = rev.start
    starts[len(value)] = bool(s & rev.accept)
    for p in range(len(value) - 1, -1, -1):
        s = rev.step(s, value[p]) | rev.start
        starts[p] = bool(s & rev.accept)
    return starts


def replace(pattern: str, value: str, replacement: str, every: bool) -> str:
    """`${v/p/r}` (the leftmost, longest match) or `${v//p/r}` (each, left to right, as
    Python's re.sub places them, empty matches included)."""
    toks = tokens(pattern)
    starts = _match_starts(toks, value)
    forward = Glob(toks)
    out: list[str] = []
    pos = 0
    while pos <= len(value):
        p = starts.find(1, pos)
        if p == -1:
            break
        end = forward.prefix_end(value, p, longest=True)
        out += (value[pos:p], replacement)
        if end == p:  # an empty match: the next may begin one character on
            out.append(value[p:p + 1])
            pos = p + 1
        else:
            pos = end
        if not every:
            break
    out.append(value[pos:])
    return "".join(out)
