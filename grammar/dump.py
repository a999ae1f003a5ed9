"""Prints a syntax tree in BuildKit's `Node.Dump` format, and as JSON for tools.

Dump format: one `(keyword ...)` per instruction, the keyword in lower case, then the
flags as Go's %q of a string slice, then each argument Go-quoted; ONBUILD nests its
instruction in parentheses. Heredoc bodies are not part of the dump, as in BuildKit.
"""

from __future__ import annotations

import json

from .ast import Dockerfile, Instruction
from .gostr import GO_SPACE, go_quote, go_quote_list


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
