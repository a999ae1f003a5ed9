"""What a Dockerfile word uses: the variables it names that are not defined, and the
'did you mean' hint for one, as the UndefinedVar and UndefinedArgInFrom checks need."""

from __future__ import annotations

from grammar import ShellLexer, ShellWordError

from ..instructions.suggest import closest


def undefined(word: str, defined, escape: str) -> list[str]:
    """Names `word` expands that are not in `defined`, in the order they first appear."""
    if "$" not in word:
        return []
    env = {name: "x" for name in defined}  # (a value, so ${V:?} of a defined V does not fail)
    try:
        missing = ShellLexer(escape).process(word, env).unmatched
    except ShellWordError:
        return []  # the build reports a malformed word itself
    return sorted(missing, key=lambda name: (word.find(name), name))


def hint(name: str, candidates) -> str:
    return closest(name, list(candidates), case_sensitive=True) or ""
