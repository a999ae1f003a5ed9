"""Go values as text/template sees them: a struct (`Record`), how fmt prints a value, what is
true, and the functions a template may call (docker's: json, split, join, title, lower, upper,
pad, truncate, println; Go's: print, printf, len, index, not, and, or, eq, ne, lt, le, gt, ge)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..errors import CairnError


class TemplateError(CairnError):
    """Go's error text, printed after docker's "template parsing error: " (exit 1)."""

    def __init__(self, go_text: str):
        super().__init__(f"template parsing error: {go_text}")
        self.go_text = go_text


@dataclass
class Record:
    """A Go struct: fields by name, and methods taking arguments (`{{.Label "k"}}`)."""
    type_name: str
    fields: dict
    methods: dict = field(default_factory=dict)



def _go_type(value) -> str:
    return {str: "string", bool: "bool", int: "int", float: "float64", list: "[]interface {}"}.get(
        type(value), "interface {}")


def _truth(value) -> bool:
    if isinstance(value, Record):
        return True
    return bool(value)


def _fmt(value) -> str:
    """Go's fmt.Sprint of a decoded JSON value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e21 else f"{value:e}"
    if isinstance(value, Record):
        return "{" + " ".join(_fmt(v) for v in value.fields.values()) + "}"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{_fmt(k)}:{_fmt(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _plain(value):
    if isinstance(value, Record):
        return {k: _plain(v) for k, v in value.fields.items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _json(value) -> str:
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False)


def _printf(fmt: str, *args) -> str:
    out, it = [], iter(args)
    for m in re.finditer(r"%([-+ 0#]*\d*(?:\.\d+)?)([vsdqfxXtT%])|[^%]+|%", fmt):
        if not m.group(2):
            out.append(m.group(0))
        elif m.group(2) == "%":
            out.append("%")
        else:
            arg = next(it, None)
            verb = m.group(2)
            if verb in "vsT":
                out.append(("%" + m.group(1) + "s") % _fmt(arg))
            elif verb == "q":
                out.append(json.dumps(_fmt(arg), ensure_ascii=False))
            elif verb == "t":
                out.append(_fmt(bool(arg)))
            else:
                out.append(("%" + m.group(1) + verb) % arg)
    return "".join(out)


def _cmp(op):
    def f(a, b, *more):
        if op == "eq":
            return any(a == x for x in (b, *more))
        return {"ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]
    return f


def _and(*args):
    for a in args:
        if not _truth(a):
            return a
    return args[-1]


def _or(*args):
    for a in args:
        if _truth(a):
            return a
    return args[-1]


def _index(value, *keys):
    for k in keys:
        value = value.fields[k] if isinstance(value, Record) else value[k]
    return value


def _truncate(s, n):
    return s if len(s) <= n else s[:n]


FUNCS = {
    # docker's (cli/templates): json, split, join, title, lower, upper, pad, truncate, println
    "json": _json,
    "split": lambda s, sep: s.split(sep),
    "join": lambda items, sep: sep.join(_fmt(i) for i in items),
    "title": lambda s: s.title(),
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "pad": lambda s, left, right: " " * left + _fmt(s) + " " * right,
    "truncate": _truncate,
    "println": lambda *a: " ".join(_fmt(x) for x in a) + "\n",
    # Go's builtins
    "print": lambda *a: "".join(_fmt(x) for x in a),
    "printf": _printf,
    "len": lambda v: len(v.fields if isinstance(v, Record) else v),
    "index": _index,
    "not": lambda v: not _truth(v),
    "and": _and,
    "or": _or,
    **{op: _cmp(op) for op in ("eq", "ne", "lt", "le", "gt", "ge")},
}
