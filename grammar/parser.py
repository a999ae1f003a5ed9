"""Reads Dockerfile text into a `Dockerfile` syntax tree, line by line as BuildKit does.

The physical-line layer lives here: a byte-order mark, parser directives (only before
the first other line), comments, blank lines, line continuations with the escape
character (comments and blank lines may sit inside a continuation; a continuation may
run into the end of the file), and heredoc bodies. Each logical line is then split by
the Lark grammar (grammar.instruction_line) and its arguments read per keyword
(grammar.arguments).
"""

from __future__ import annotations

import re

from . import line_memo
from .arguments import LINE_PARSERS, ignore
from .ast import Directive, Dockerfile, Heredoc, Instruction, Warning
from .errors import DockerfileError
from .gostr import GO_SPACE, trim_space
from .heredoc import heredocs_in_line
from .instruction_line import split_line

VALID_DIRECTIVES = ("syntax", "escape", "check")
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")
_HEREDOC_KEYWORDS = frozenset(("add", "copy", "run"))
_CONTINUATION = {
    esc: re.compile(r"([^%s])%s[ \t]*\Z|^%s[ \t]*\Z" % ((re.escape(esc),) * 3))
    for esc in ("\\", "`")
}


class _Directives:
    """Parser directives: `# name=value` lines, valid only before any other line."""

    def __init__(self) -> None:
        self.done = False
        self.found: list[Directive] = []
        self.escape = "\\"

    def feed(self, line: str, lineno: int) -> bool:
        """Look at one line (newline removed); True if it was a directive."""
        if self.done:
            return False
        if not line.startswith("#"):
            self.done = True
            return False
        m = _DIRECTIVE.match(line[1:].lstrip(GO_SPACE))
        name = m.group(1).lower() if m else ""
        if name not in VALID_DIRECTIVES:
            self.done = True
            return False
        if any(d.name == name for d in self.found):
            raise DockerfileError(f"only one {name} parser directive can be used", lineno)
        value = m.group(2)
        if name == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(
                    f"invalid escape token '{value}' does not match ` or \\", lineno
                )
            self.escape = value
        self.found.append(Directive(name, value, lineno))
        return True


def _is_comment(line: str) -> bool:
    return line.lstrip(GO_SPACE).startswith("#")


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _physical_lines(text: str) -> list[str]:
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def decode(source: str | bytes) -> str:
    """Text of a Dockerfile; undecodable bytes survive as surrogate escapes."""
    if isinstance(source, bytes):
        return source.decode("utf-8", errors="surrogateescape")
    return source


def parse(source: str | bytes) -> Dockerfile:
    """Parse Dockerfile text. Raises DockerfileError with the offending lines."""
    text = decode(source)
    nul = text.find("\0")
    if nul != -1:  # no path, name or command can hold one: refused here, with its line
        line = text.count("\n", 0, nul) + 1
        raise DockerfileError("the Dockerfile holds a NUL byte", line, line)
    lines = _physical_lines(text)
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    directives = _Directives()
    instructions: list[Instruction] = []
    warnings: list[Warning] = []
    comments: list[str] = []
    i, n = 0, len(lines)

    def process(raw: str, strip_left: bool) -> tuple[str, bool]:
        token = _trim_newline(raw)
        if strip_left:
            token = token.lstrip(GO_SPACE)
        is_directive = directives.feed(token, i + 1)
        return ("" if _is_comment(token) else token), is_directive

    def trim_continuation(line: str) -> tuple[str, bool]:
        m = _CONTINUATION[directives.escape].search(line)
        if m is None:
            return line, True
        return line[: m.start()] + (m.group(1) or ""), False

    while i < n:
        raw = lines[i]
        if _is_comment(raw):
            comment = trim_space(raw[1:])
            comments = comments + [comment] if comment else []
        line, is_directive = process(raw, True)
        if is_directive and comments:
            comments.pop()
        i += 1
        start = i
        line, end_of_line = trim_continuation(line)
        if end_of_line and not line:
            continue
        parts = [line]
        empty_continuation = False
        while not end_of_line and i < n:
            raw = lines[i]
            line, _ = process(raw, False)
            i += 1
            if _is_comment(raw):
                continue
            if not line.lstrip(GO_SPACE):
                empty_continuation = True
                continue
            line, end_of_line = trim_continuation(line)
            parts.append(line)
        logical = "".join(parts)
        if empty_continuation:
            warnings.append(Warning(f"Empty continuation line found in: {logical}", i))
        try:
            node = instruction_from_line(logical, directives.escape)
        except DockerfileError as err:
            raise err.at(start, i) from None
        heredocs: tuple[Heredoc, ...] = ()
        if "<<" in logical and _can_contain_heredoc(node):
            heredocs, i = _read_heredocs(logical, lines, i, start)
        instructions.append(
            Instruction(node.keyword, node.args, node.flags, node.json, node.child, heredocs,
                        node.original, start, i, tuple(comments))
        )
        comments = []

    if not instructions:
        raise DockerfileError("file with no instructions", max(n, 1))
    line_memo.flush()  # (the lines only the grammar could split, for the next run)
    return Dockerfile(
        instructions=tuple(instructions),
        directives=tuple(directives.found),
        escape=directives.escape,
        warnings=tuple(warnings),
    )


def _read_heredocs(logical: str, lines: list[str], i: int, start: int) -> tuple[tuple[Heredoc, ...], int]:
    """Read the bodies of the heredocs `logical` opens from lines[i:]; return them and the next index."""
    try:
        openers = heredocs_in_line(logical)
    except DockerfileError as err:
        raise err.at(start, i) from None
    found: list[Heredoc] = []
    for doc in openers:
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise DockerfileError("unterminated heredoc", start, i)
            raw = lines[i]
            i += 1
            candidate = _trim_newline(raw)
            if doc.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == doc.name:
                break
            body.append(raw)
        found.append(Heredoc(doc.name, "".join(body), doc.expand, doc.chomp, doc.fd))
    return tuple(found), i


def _can_contain_heredoc(node: Instruction) -> bool:
    if node.name == "onbuild" and node.child is not None:
        node = node.child
    return node.name in _HEREDOC_KEYWORDS and not node.json


def instruction_from_line(line: str, escape: str) -> Instruction:
    """One logical line to an Instruction (no line numbers yet)."""
    line = trim_space(line)
    if not line:
        return Instruction(keyword="", args=("",), original=line)
    head = split_line(line)
    name = head.keyword.lower()
    if name == "onbuild":
        child = instruction_from_line(head.rest, escape) if head.rest else None
        return Instruction(head.keyword, (), head.flags, False, child, original=line)
    args = LINE_PARSERS.get(name, ignore)(head.rest, escape)
    return Instruction(head.keyword, args.values, head.flags, args.json, original=line)
