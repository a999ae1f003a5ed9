"""Expansion forms beyond BuildKit's tables, as a text table (tests/tables/expand.txt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grammar import ShellWordError, expand_word, expand_words

TABLE = Path(__file__).with_name("tables") / "expand.txt"
ENV = {"A": "abc", "PATHV": "/usr/local/bin:/usr/bin", "FILE": "archive.tar.gz", "EMPTY": "",
       "SP": "a b"}


def _cases():
    out = []
    for no, line in enumerate(TABLE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        source, expected = line.split("|", 1)
        out.append(pytest.param(source.strip(), expected.strip(), id=f"L{no}:{source.strip()}"))
    return out


@pytest.mark.parametrize("source,expected", _cases())
def test_expand(source, expected):
    if expected == "error":
        with pytest.raises(ShellWordError):
            expand_word(source, ENV)
    else:
        assert expand_word(source, ENV) == expected


def test_backtick_escape():
    assert expand_word("a`$b", {"b": "x"}, escape="`") == "a$b"
    assert expand_word("c:\\dir", {}, escape="`") == "c:\\dir"
    assert expand_words("a` b c", {}, escape="`") == ["a b", "c"]


def test_unquoted_expansion_splits_quoted_does_not():
    env = {"X": " one  two "}
    assert expand_words("$X", env) == ["one", "two"]
    assert expand_words('"$X"', env) == [" one  two "]
    assert expand_words("a${X}b", env) == ["a", "one", "two", "b"]  # trailing space splits too


def test_error_names_the_word():
    with pytest.raises(ShellWordError) as info:
        expand_word("${NOPE:?must be set}", {})
    assert "NOPE: must be set" in str(info.value)
    assert "${NOPE:?must be set}" in str(info.value)
