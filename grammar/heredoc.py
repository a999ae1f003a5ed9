"""Finds here-document openers (`<<EOF`, `<<-EOF`, `3<<"EOF"`) in an instruction line.

A word is a heredoc opener when it reads `[fd]<<[-]NAME`, NAME being one shell word. A
quoted NAME (`<<"EOF"`, `<<'EOF'`, even partly quoted) turns expansion of the body off.
"""

from __future__ import annotations

import re

from .ast import Heredoc
from .errors import ShellWordError
from .shell import ShellLexer

_OPENER = re.compile(r"^(\d*)<<(-?)([^<]*)\Z")

_LINE_LEXER = ShellLexer("\\", raw_quotes=True, raw_escapes=True, skip_unset=True)
_NAME_LEXER = ShellLexer("\\", skip_unset=True)
_RAW_NAME_LEXER = ShellLexer("\\", raw_quotes=True, skip_unset=True)


def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a single word opens, or None. Raises ShellWordError on a bad name."""
    m = _OPENER.match(word)
    if not m or not m.group(3):
        return None
    fd, chomp, rest = m.groups()
    words = _NAME_LEXER.process(rest, {}).words
    if len(words) != 1:
        return None
    raw = _RAW_NAME_LEXER.process(rest, {}).words
    if len(raw) != 1:
        raise ShellWordError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    name = words[0]
    quotes = name.count("'") + name.count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    fd_number = int(fd) if fd else 0
    if fd_number >= 1 << 64:
        fd_number = 0  # Go's ParseUint fails on overflow and BuildKit keeps 0
    return Heredoc(name=name, expand=quotes == raw_quotes, chomp=chomp == "-", fd=fd_number)


def heredocs_in_line(line: str) -> list[Heredoc]:
    try:
        words = _LINE_LEXER.process(line, {}).words
    except ShellWordError:
        return []  # BuildKit ignores a line it cannot split here
    found = []
    for word in words:
        doc = parse_heredoc(word)
        if doc is not None:
            found.append(doc)
    return found
