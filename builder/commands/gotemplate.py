"""The subset of Go's text/template that docker's `--format` takes, with docker's functions.

    {{.Field}} {{.A.B}} {{.}} {{$}} {{$v.Field}} {{"\\t"}} {{json .}} {{.Names | upper}}
    {{if PIPE}}..{{else if PIPE}}..{{else}}..{{end}}  {{range [$i, $v :=] PIPE}}..{{else}}..{{end}}
    {{with PIPE}}..{{end}}  {{$x := PIPE}}  {{- trimmed -}}

A dict is a Go map (a missing key is an error, as in `docker inspect`'s map fallback); a
`Record` is a Go struct (an unknown field is "can't evaluate field X in type T", as docker
ps/images say). Errors are `TemplateError` with Go's text ("template: :1:2: executing ...");
printed as docker prints them ("template parsing error: template: ..."), exit status 1.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .gotemplate_values import FUNCS, Record, TemplateError, _fmt, _go_type, _truth

__all__ = ["Record", "TemplateError", "parse", "render"]


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<decl>:=)|(?P<punct>[|(),=])
    |(?P<var>\$\w*)(?P<vchain>(?:\.\w+)*)|(?P<field>(?:\.\w+)+|\.)|(?P<num>-?\d+(?:\.\d+)?)|(?P<ident>[A-Za-z_]\w*))""", re.VERBOSE)


# ---- parsing: text -> a tree of nodes ----------------------------------------------------

@dataclass
class _Cmd:
    """One command of a pipeline: its operands (a docstring: dataclass would ask inspect for one)."""

    args: list  # operands: ("field", pos, [names]) ("var", pos, name, [names]) ("lit", value) ("fn", name) ("pipe", _Pipe)


@dataclass
class _Pipe:
    """A pipeline: its commands and the variables it declares."""

    pos: int
    text: str
    cmds: list
    decl: list = field(default_factory=list)


def _unquote(tok: str) -> str:
    if tok[0] == "`":
        return tok[1:-1]
    try:
        return json.loads(tok, strict=False)
    except ValueError:
        return tok[1:-1].encode().decode("unicode_escape")


def _lex_pipe(src: str, base: int, where: str) -> _Pipe:
    tokens, pos = [], 0
    while pos < len(src):
        if not src[pos:].strip():
            break
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"template: {where}: unexpected {src[pos:].strip()[:20]!r} in command")
        kind = m.lastgroup if m.lastgroup != "vchain" else "var"
        tokens.append((kind, m, base + m.start(kind)))
        pos = m.end()
    tokens.reverse()
    return _parse_pipe(tokens, base, src.strip(), where, top=True)


def _parse_pipe(tokens: list, base: int, text: str, where: str, top: bool = False) -> _Pipe:
    pipe = _Pipe(base, text, [])
    if len(tokens) >= 2 and tokens[-1][0] == "var" and (
            tokens[-2][0] == "decl" or tokens[-2][1].group(0).strip() == ","):
        names = [tokens.pop()[1].group("var")]
        if tokens[-1][0] == "punct" and tokens[-1][1].group("punct") == "," and len(tokens) >= 3:
            tokens.pop()
            names.append(tokens.pop()[1].group("var"))
        if not tokens or tokens[-1][0] != "decl":
            raise TemplateError(f"template: {where}: unexpected declaration")
        tokens.pop()
        pipe.decl = names
    cmd = _Cmd([])
    while tokens:
        kind, m, pos = tokens.pop()
        if kind == "punct":
            p = m.group("punct")
            if p == "|":
                if not cmd.args:
                    raise TemplateError(f"template: {where}: missing command")
                pipe.cmds.append(cmd)
                cmd = _Cmd([])
                continue
            if p == "(":
                inner = _parse_pipe(tokens, pos, text, where)
                cmd.args.append(("pipe", inner))
                continue
            if p == ")":
                if top:
                    raise TemplateError(f"template: {where}: unexpected right paren")
                break
            raise TemplateError(f"template: {where}: unexpected {p!r} in command")
        if kind == "str" or kind == "raw":
            cmd.args.append(("lit", _unquote(m.group(kind))))
        elif kind == "num":
            n = m.group("num")
            cmd.args.append(("lit", float(n) if "." in n else int(n)))
        elif kind == "field":
            cmd.args.append(("field", pos, [s for s in m.group("field").split(".") if s]))
        elif kind == "var":
            cmd.args.append(("var", pos, m.group("var"), [s for s in (m.group("vchain") or "").split(".") if s]))
        elif kind == "ident":
            word = m.group("ident")
            if word in ("true", "false"):
                cmd.args.append(("lit", word == "true"))
            elif word == "nil":
                cmd.args.append(("lit", None))
            elif word in FUNCS:
                cmd.args.append(("fn", word))
            else:
                raise TemplateError(f'template: {where}: function "{word}" not defined')
        else:
            raise TemplateError(f"template: {where}: unexpected {m.group(0).strip()!r}")
    if cmd.args:
        pipe.cmds.append(cmd)
    if not pipe.cmds:
        raise TemplateError(f"template: {where}: missing value for command")
    return pipe


def parse(text: str) -> list:
    """The template's node list: str | ("action", pipe) | ("if"|"with"|"range", pipe, body, else)."""
    root: list = []
    stack: list = [(None, root)]  # (the open block, the list being filled)
    pos, trim_next = 0, False
    for m in _ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if trim_next:
            chunk = chunk.lstrip()
        if m.group(1):
            chunk = chunk.rstrip()
        if chunk:
            stack[-1][1].append(chunk)
        pos, trim_next = m.end(), bool(m.group(3))
        body = m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        where = f":{line}"
        inner = body.strip()
        if inner.startswith("/*"):
            continue
        word = inner.split(None, 1)[0] if inner else ""
        rest_at = m.start(2) + body.find(word) + len(word)
        if word in ("if", "with", "range"):
            pipe = _lex_pipe(body[body.find(word) + len(word):], rest_at, where)
            node = [word, pipe, [], None]
            stack[-1][1].append(node)
            stack.append((node, node[2]))
        elif word == "else":
            node = stack[-1][0]
            if node is None or node[3] is not None:
                raise TemplateError(f"template: {where}: unexpected {{{{else}}}}")
            node[3] = []
            after = inner[4:].strip()
            if after.startswith(("if ", "with ")):
                kind = after.split(None, 1)[0]
                pipe = _lex_pipe(after[len(kind):], rest_at, where)
                chained = [kind, pipe, [], None, "chained"]
                node[3].append(chained)
                stack[-1] = (node, node[3])
                stack.append((chained, chained[2]))
            else:
                stack[-1] = (node, node[3])
        elif word == "end":
            if stack[-1][0] is None:
                raise TemplateError(f"template: {where}: unexpected {{{{end}}}}")
            while len(stack[-1][0]) == 5:  # an `else if` closes with its parent
                stack.pop()
            stack.pop()
        elif not inner:
            raise TemplateError(f"template: {where}: missing value for command")
        else:
            stack[-1][1].append(("action", _lex_pipe(body, m.start(2), where)))
    tail = text[pos:]
    if "{{" in tail:
        raise TemplateError(f"template: :{text.count(chr(10), 0, pos + tail.index('{{')) + 1}: unclosed action")
    if trim_next:
        tail = tail.lstrip()
    if tail:
        stack[-1][1].append(tail)
    if len(stack) > 1:
        raise TemplateError(f"template: :{text.count(chr(10)) + 1}: unexpected EOF")
    return root


# ---- execution ------------------------------------------------------------------------

class _Exec:
    def __init__(self, text: str, data, funcs: dict):
        self.text, self.vars, self.funcs = text, [("$", data)], funcs

    def where(self, pos: int, node: str) -> str:
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1)
        return f'template: :{line}:{col}: executing "" at <{node}>'

    def walk(self, nodes: list, dot, out: list) -> None:
        for node in nodes:
            if isinstance(node, str):
                out.append(node)
            elif node[0] == "action":
                value = self.pipe(node[1], dot)
                if not node[1].decl:
                    out.append(_fmt(value))
            else:
                self.block(node, dot, out)

    def block(self, node, dot, out: list) -> None:
        kind, pipe, body, other = node[:4]
        mark = len(self.vars)
        value = self.pipe(pipe, dot) if kind != "range" or not pipe.decl else self.pipe(
            _Pipe(pipe.pos, pipe.text, pipe.cmds), dot)
        if kind == "range":
            items = list(value.items()) if isinstance(value, dict) else list(enumerate(value or []))
            if isinstance(value, dict):
                items.sort(key=lambda kv: kv[0])
            for key, item in items:
                if len(pipe.decl) == 2:
                    self.vars += [(pipe.decl[0], key), (pipe.decl[1], item)]
                elif pipe.decl:
                    self.vars.append((pipe.decl[0], item))
                self.walk(body, item, out)
                del self.vars[mark:]
            if not items and other is not None:
                self.walk(other, dot, out)
        elif _truth(value):
            self.walk(body, value if kind == "with" else dot, out)
        elif other is not None:
            self.walk(other, dot, out)
        del self.vars[mark:]

    def pipe(self, pipe: _Pipe, dot):
        value, first = None, True
        for cmd in pipe.cmds:
            value = self.command(cmd, dot, pipe, None if first else value, not first)
            first = False
        for name in pipe.decl[:1]:
            self.vars.append((name, value))
        return value

    def command(self, cmd: _Cmd, dot, pipe: _Pipe, piped, has_piped: bool):
        head = cmd.args[0]
        if head[0] == "fn":
            args = [self.operand(a, dot, pipe) for a in cmd.args[1:]]
            if has_piped:
                args.append(piped)
            try:
                return self.funcs[head[1]](*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, KeyError, IndexError) as err:
                raise TemplateError(f"{self.where(pipe.pos, pipe.text)}: error calling {head[1]}: {err}") from None
        if head[0] == "field" and (len(cmd.args) > 1 or has_piped):  # a method with arguments
            args = [self.operand(a, dot, pipe) for a in cmd.args[1:]] + ([piped] if has_piped else [])
            return self.chain(dot, head[2], head[1], "." + ".".join(head[2]), args)
        if len(cmd.args) > 1 or has_piped:
            raise TemplateError(f"{self.where(pipe.pos, pipe.text)}: can't give argument to non-function")
        return self.operand(head, dot, pipe)

    def operand(self, arg, dot, pipe: _Pipe):
        kind = arg[0]
        if kind == "lit":
            return arg[1]
        if kind == "pipe":
            return self.pipe(arg[1], dot)
        if kind == "field":
            return self.chain(dot, arg[2], arg[1], "." + ".".join(arg[2]))
        if kind == "var":
            for name, value in reversed(self.vars):
                if name == arg[2]:
                    return self.chain(value, arg[3], arg[1], arg[2] + "".join("." + n for n in arg[3]))
            raise TemplateError(f"template: :1: undefined variable: {arg[2]}")
        return self.funcs[arg[1]]()

    def chain(self, value, names: list, pos: int, text: str, args: list | None = None):
        for i, name in enumerate(names):
            last = i == len(names) - 1
            if isinstance(value, Record):
                if name in value.methods:
                    given = args if last and args is not None else []
                    try:
                        value = value.methods[name](*given)
                    except TypeError:
                        raise TemplateError(f"{self.where(pos, text)}: wrong number of args for {name}: "
                                            f"want 1 got {len(given)}") from None
                    args = None
                    continue
                if name in value.fields:
                    value = value.fields[name]
                else:
                    raise TemplateError(f"{self.where(pos, text)}: can't evaluate field {name} in type "
                                        f"{value.type_name}")
            elif isinstance(value, dict):
                if name not in value:
                    raise TemplateError(f'{self.where(pos, text)}: map has no entry for key "{name}"')
                value = value[name]
            elif value is None:
                raise TemplateError(f"{self.where(pos, text)}: nil pointer evaluating interface {{}}.{name}")
            else:
                raise TemplateError(f"{self.where(pos, text)}: can't evaluate field {name} in type "
                                    f"{_go_type(value)}")
        if args:
            raise TemplateError(f"{self.where(pos, text)}: can't give argument to non-function {text}")
        return value


def render(text: str, data, funcs: dict | None = None) -> str:
    """One execution of `text` with `data` as dot (`funcs` replaces the function table)."""
    out: list = []
    _Exec(text, data, funcs or FUNCS).walk(parse(text), data, out)
    return "".join(out)


