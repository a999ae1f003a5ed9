"""What a Dockerfile word uses: the variables it names that are not defined, and the
'did you mean' hint for one, as the UndefinedVar and UndefinedArgInFrom checks need.

The Dockerfile is untrusted: a lookup costs no more than the word's length (the defined
names are looked up, never copied), and hints have a budget of comparisons per run, and
skip long names (edit distance is quadratic in the lengths)."""

from __future__ import annotations

from collections.abc import Mapping

from grammar import ShellLexer, ShellWordError

from ..instructions.suggest import closest

HINT_BUDGET = 100_000  # candidate comparisons per run of the checks
HINT_MAX_LEN = 64


class _Defined(Mapping):
    """The defined names as an environment whose every value is non-empty (so that ${V:?}
    of a defined V does not fail)."""

    def __init__(self, names):
        self.names = names

    def __getitem__(self, key):
        if key in self.names:
            return "x"
        raise KeyError(key)

    def __contains__(self, key):
        return key in self.names

    def __iter__(self):
        return iter(self.names)

    def __len__(self):
        return len(self.names)


def undefined(word: str, defined, escape: str) -> list[str]:
    """Names `word` expands that are not in `defined` (a set or dict), in order of appearance."""
    if "$" not in word:
        return []
    try:
        missing = ShellLexer(escape).process(word, _Defined(defined)).unmatched
    except ShellWordError:
        return []  # the build reports a malformed word itself
    return sorted(missing, key=lambda name: (word.find(name), name))


class Hints:
    def __init__(self, budget: int = HINT_BUDGET):
        self.budget = budget

    def __call__(self, name: str, candidates) -> str:
        """`candidates`: a sized iterable (the defined names), walked only within the budget."""
        if len(name) > HINT_MAX_LEN or len(candidates) > self.budget:
            return ""
        self.budget -= len(candidates)
        short = [c for c in candidates if len(c) <= HINT_MAX_LEN]
        return closest(name, short, case_sensitive=True) or ""
