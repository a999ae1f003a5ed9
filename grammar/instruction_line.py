"""Splits one logical line into keyword, flags and argument text with the Lark grammar.

The grammar (dockerfile.lark) is compiled once per process and cached on disk by Lark,
so start-up pays for loading it, not for building its tables.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

from .gostr import GO_SPACE

GRAMMAR_PATH = os.path.join(os.path.dirname(__file__), "dockerfile.lark")


@dataclass(frozen=True)
class LineHead:
    keyword: str
    flags: tuple[str, ...]
    rest: str


def _read_grammar() -> str:
    with open(GRAMMAR_PATH, encoding="utf-8") as f:
        return f.read()


@lru_cache(maxsize=1)
def _parser():
    import lark

    return lark.Lark(
        _read_grammar(),
        parser="lalr",
        lexer="contextual",
        cache=True,
    )


_SIMPLE = re.compile(r"([^\t\v\f\r ]+)(?:[%s]+(.*))?\Z" % GO_SPACE, re.DOTALL)


def split_line(line: str) -> LineHead:
    """`line` is non-empty, holds no newline and no surrounding whitespace.

    Most lines have no flags. For those the grammar can only yield KEYWORD and REST (a
    FLAG or END_OF_FLAGS token must start with "--"), so they are split with one regex;
    every other line goes through the Lark grammar. tests/test_properties.py checks that
    both ways agree.
    """
    m = _SIMPLE.match(line)
    if m is not None:
        rest = m.group(2) or ""
        if not rest.startswith("--"):
            return LineHead(m.group(1), (), rest.strip(GO_SPACE))
    return split_line_with_grammar(line)


def split_line_with_grammar(line: str) -> LineHead:
    tokens = _parser().parse(line).children
    flags = []
    rest = ""
    for tok in tokens[1:]:
        if tok.type == "FLAG":
            flags.append(flag_word(tok.value.lstrip(GO_SPACE)))
        elif tok.type == "REST":
            rest = tok.value.strip(GO_SPACE)
    return LineHead(tokens[0].value, tuple(flags), rest)


def flag_word(raw: str) -> str:
    """The value of a flag token: quotes removed, `\\x` read as `x`, a final `\\` dropped."""
    if "\\" not in raw and "'" not in raw and '"' not in raw:
        return raw
    out: list[str] = []
    quote = ""
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        i += 1
        if quote and ch == quote:
            quote = ""
            continue
        if not quote and ch in ("'", '"'):
            quote = ch
            continue
        if ch == "\\":
            if i == n:
                break
            ch = raw[i]
            i += 1
        out.append(ch)
    return "".join(out)
