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
    dumping again gives the same text, which the property tests rely on. A keyword may
    hold any character but a space, so each node is read up to a known end: the line's
    last `)` for an instruction, the one before it for ONBUILD's nested instruction
    (which is always the last item on its line).
    """
    return tuple(_read_node(line, 0, len(line) - 1) for line in text.split("\n") if line)


def _read_node(line: str, pos: int, close: int) -> Instruction:
    """The node whose `(` is at pos and whose `)` is at close."""
    if line[pos : pos + 1] != "(" or line[close : close + 1] != ")":
        raise ValueError(f"expected a (...) node at {pos}..{close}")
    pos += 1
    if line[pos:close] == '""':  # BuildKit's dump of an instruction with an empty keyword
        return Instruction(keyword="", args=("",))
    space = line.find(" ", pos, close)
    end = close if space == -1 else space
    keyword = line[pos:end]
    pos = end
    flags: list[str] = []
    args: list[str] = []
    child = None
    while pos < close:
        if line[pos] != " ":
            raise ValueError(f"expected a space at {pos}")
        pos += 1
        ch = line[pos]
        if ch == "[":
            pos += 1
            while line[pos] != "]":
                value, pos = go_unquote_at(line, pos)
                flags.append(value)
                if line[pos] == " ":
                    pos += 1
            pos += 1
        elif ch == "(":
            child = _read_node(line, pos, close - 1)
            pos = close
        else:
            value, pos = go_unquote_at(line, pos)
            args.append(value)
    return Instruction(keyword, tuple(args), tuple(flags), False, child)
