"""Prints a syntax tree in BuildKit's `Node.Dump` format, and as JSON for tools.

Dump format: one `(keyword ...)` per instruction, the keyword in lower case, then the
flags as Go's %q of a string slice, then each argument Go-quoted; ONBUILD nests its
instruction in parentheses. Heredoc bodies are not part of the dump, as in BuildKit.
"""

from __future__ import annotations

import json

from .ast import Dockerfile, Instruction
from .gostr import GO_SPACE, go_quote, go_quote_list, go_unquote_at


def dump_instruction(node: Instruction) -> str:
    text = node.name
    if node.flags:
        text += " " + go_quote_list(node.flags)
    if node.child is not None:
        text += " (" + dump_instruction(node.child) + ")"
    for arg in node.args:
        text += " " + go_quote(arg)
    return text.strip(GO_SPACE)


def dump(tree: Dockerfile) -> str:
    """The whole file, one line per instruction, ending in a newline."""
    return "".join("(" + dump_instruction(node) + ")\n" for node in tree.instructions)


def _instruction_json(node: Instruction) -> dict:
    out: dict = {
        "keyword": node.keyword,
        "flags": list(node.flags),
        "args": list(node.args),
        "json": node.json,
        "start_line": node.start_line,
        "end_line": node.end_line,
        "original": node.original,
    }
    if node.child is not None:
        out["child"] = _instruction_json(node.child)
    if node.heredocs:
        out["heredocs"] = [
            {"name": h.name, "content": h.content, "expand": h.expand, "chomp": h.chomp, "fd": h.fd}
            for h in node.heredocs
        ]
    if node.comments:
        out["comments"] = list(node.comments)
    return out


def to_json(tree: Dockerfile) -> str:
    doc = {
        "escape": tree.escape,
        "directives": [{"name": d.name, "value": d.value, "line": d.line} for d in tree.directives],
        "instructions": [_instruction_json(n) for n in tree.instructions],
        "warnings": [{"message": w.message, "line": w.line} for w in tree.warnings],
    }
    return json.dumps(doc, indent=2, ensure_ascii=True)


def read_dump(text: str) -> tuple[Instruction, ...]:
    """Read BuildKit's dump format back into instructions (no lines, heredocs or case).

    The dump is one `(keyword [flags] (child) "arg"...)` per line; reading it back and
    dumping again gives the same text, which the property tests rely on.
    """
    return tuple(_read_node(line, 0)[0] for line in text.split("\n") if line)


def _read_node(line: str, pos: int) -> tuple[Instruction, int]:
    if line[pos : pos + 1] != "(":
        raise ValueError(f"expected ( at {pos}")
    pos += 1
    if line.startswith('"")', pos):  # BuildKit's dump of an instruction with an empty keyword
        return Instruction(keyword="", args=("",)), pos + 3
    # A keyword ends at a space; it is followed by ")" only when it has no flags or
    # arguments, which happens only to known (alphabetic) keywords, so a ")" inside an
    # unknown keyword is part of it.
    end = pos
    while end < len(line) and line[end] != " ":
        if line[end] == ")" and line[pos:end].isascii() and line[pos:end].isalpha():
            break
        end += 1
    keyword = line[pos:end]
    pos = end
    flags: list[str] = []
    args: list[str] = []
    child = None
    while True:
        if line[pos : pos + 1] == ")":
            return Instruction(keyword, tuple(args), tuple(flags), False, child), pos + 1
        if line[pos : pos + 1] != " ":
            raise ValueError(f"expected a space at {pos}")
        pos += 1
        ch = line[pos : pos + 1]
        if ch == "[":
            pos += 1
            while line[pos] != "]":
                value, pos = go_unquote_at(line, pos)
                flags.append(value)
                if line[pos] == " ":
                    pos += 1
            pos += 1
        elif ch == "(":
            child, pos = _read_node(line, pos)
        else:
            value, pos = go_unquote_at(line, pos)
            args.append(value)
