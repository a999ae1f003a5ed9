"""Splits one logical line into keyword, flags and argument text with the Lark grammar.

The grammar (dockerfile.lark) is compiled once per process and cached on disk by Lark,
so start-up pays for loading it, not for building its tables. The cache is a pickle that
Lark loads: it lives only in a directory that no one but this user can write (Lark's own
default, a predictable name in the shared temp directory, let any local user plant code
for root's next cairn to run); without such a directory nothing is cached.
"""

from __future__ import annotations

import os
import re
import stat
from functools import lru_cache

from .ast import Value
from .gostr import GO_SPACE

GRAMMAR_PATH = os.path.join(os.path.dirname(__file__), "dockerfile.lark")


class LineHead(Value):
    __slots__ = ("keyword", "flags", "rest")

    def __init__(self, keyword: str, flags: tuple[str, ...], rest: str):
        self._fill(keyword=keyword, flags=flags, rest=rest)


def _read_grammar() -> str:
    with open(GRAMMAR_PATH, encoding="utf-8") as f:
        return f.read()


def _owned_private_dir(path: str) -> bool:
    """A directory (not a link) of this user's that no one else can write into."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def private_cache_file(version: str, suffix: str = ".pickle") -> str | None:
    """Where Lark may keep its tables: $XDG_CACHE_HOME/cairn (default ~/.cache/cairn), made
    0700, when it and its parent belong to this user alone; else None (no cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    directory = os.path.join(base, "cairn")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError:
        return None
    if not (_owned_private_dir(base) and _owned_private_dir(directory)):
        return None
    return os.path.join(directory, f"dockerfile-grammar-lark-{version}{suffix}")


@lru_cache(maxsize=1)
def _parser():
    import lark

    cache_file = private_cache_file(lark.__version__)
    return lark.Lark(
        _read_grammar(),
        parser="lalr",
        lexer="contextual",
        cache=cache_file if cache_file else False,
    )


_SIMPLE = re.compile(r"([^\t\v\f\r ]+)(?:[%s]+(.*))?\Z" % GO_SPACE, re.DOTALL)


def split_line(line: str) -> LineHead:
    """`line` is non-empty, holds no newline and no surrounding whitespace.

    Most lines have no flags. For those the grammar can only yield KEYWORD and REST (a
    FLAG or END_OF_FLAGS token must start with "--"), so they are split with one regex;
    every other line goes through the Lark grammar, once: line_memo keeps its split for
    later runs. tests/test_properties.py checks that both ways agree.
    """
    m = _SIMPLE.match(line)
    if m is not None:
        rest = m.group(2) or ""
        if not rest.startswith("--"):
            return LineHead(m.group(1), (), rest.strip(GO_SPACE))
    from . import line_memo

    known = line_memo.lookup(line)
    if known is not None:
        return LineHead(*known)
    head = split_line_with_grammar(line)
    line_memo.remember(line, head.keyword, head.flags, head.rest)
    return head


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
