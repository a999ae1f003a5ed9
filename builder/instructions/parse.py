"""Turns syntax-tree instructions into typed commands and stages, validating each.

Every error is an InstructionError carrying the instruction's lines, so the CLI can
print `Dockerfile:LINE: message`. Messages follow BuildKit's wording where it has one.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Callable

from grammar import Dockerfile, DockerfileError, Heredoc, Instruction, parse_heredoc

from . import types as t
from .errors import InstructionError
from .flags import BOOL, STRING, STRINGS, FlagValues, parse_flags
from .healthcheck import parse_healthcheck
from .mounts import parse_mount
from .suggest import with_hint

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*\Z")
_CHMOD = re.compile(r"^(?:[0-7]{1,4}|[ugoa]*[-+=][rwxXst]*(?:,[ugoa]*[-+=][rwxXst]*)*)\Z")

_COPY_FLAGS = {"from": STRING, "chown": STRING, "chmod": STRING, "link": BOOL,
               "parents": BOOL, "exclude": STRINGS}
_ADD_FLAGS = {"chown": STRING, "chmod": STRING, "link": BOOL, "keep-git-dir": BOOL,
              "checksum": STRING, "exclude": STRINGS, "unpack": BOOL, "user-agent": STRING}
_RUN_FLAGS = {"mount": STRINGS, "network": STRING, "security": STRING}
NETWORK_MODES = ("default", "none", "host")
SECURITY_MODES = ("sandbox", "insecure")


def _at_least_one(kw: str) -> InstructionError:
    return InstructionError(f"{kw} requires at least one argument")


def _exactly_one(kw: str) -> InstructionError:
    return InstructionError(f"{kw} requires exactly one argument")


def _no_flags(node: Instruction) -> None:
    parse_flags(node.flags, {})


def _single(cls, field: str):
    def build(node: Instruction, kw: str) -> t.Command:
        _no_flags(node)
        if len(node.args) != 1:
            raise _exactly_one(kw)
        return cls(kw, **{field: node.args[0]})

    return build


def _key_values(node: Instruction, kw: str) -> tuple[t.KeyValue, ...]:
    _no_flags(node)
    args = node.args
    if not args:
        raise _at_least_one(kw)
    if len(args) % 3:
        raise InstructionError(f"Bad input to {kw}, too many arguments")
    pairs = []
    for i in range(0, len(args), 3):
        if not args[i]:
            raise InstructionError(f"{kw} names can not be blank")
        pairs.append(t.KeyValue(args[i], args[i + 1], legacy=args[i + 2] == ""))
    return tuple(pairs)


def _env(node: Instruction, kw: str) -> t.Command:
    return t.Env(kw, pairs=_key_values(node, kw))


def _label(node: Instruction, kw: str) -> t.Command:
    return t.Label(kw, pairs=_key_values(node, kw))


def _arg(node: Instruction, kw: str) -> t.Command:
    _no_flags(node)
    if not node.args:
        raise _at_least_one(kw)
    decls = []
    for word in node.args:
        name, eq, value = word.partition("=")
        if not name:
            raise InstructionError("ARG names can not be blank")
        decls.append(t.ArgDecl(name, value if eq else None))
    return t.Arg(kw, args=tuple(decls))


def _expose(node: Instruction, kw: str) -> t.Command:
    _no_flags(node)
    if not node.args:
        raise _at_least_one(kw)
    return t.Expose(kw, ports=node.args)


def _volume(node: Instruction, kw: str) -> t.Command:
    _no_flags(node)
    if not node.args:
        raise _at_least_one(kw)
    paths = tuple(p.strip() for p in node.args)
    if any(not p for p in paths):
        raise InstructionError("VOLUME specified can not be an empty string")
    return t.Volume(kw, paths=paths)


def _command_line(node: Instruction) -> tuple[tuple[str, ...], bool]:
    """handleJSONArgs: exec form keeps the array; shell form is one string."""
    if node.json:
        return node.args, False
    return (" ".join(node.args),), True


def _cmd(node: Instruction, kw: str) -> t.Command:
    _no_flags(node)
    command, shell_form = _command_line(node)
    return t.Cmd(kw, command=command, shell_form=shell_form)


def _entrypoint(node: Instruction, kw: str) -> t.Command:
    _no_flags(node)
    command, shell_form = _command_line(node)
    return t.Entrypoint(kw, command=command, shell_form=shell_form)


def _shell(node: Instruction, kw: str) -> t.Command:
    _no_flags(node)
    if not node.args:
        raise _at_least_one(kw)
    if not node.json:
        raise InstructionError("SHELL requires the arguments to be in JSON form")
    return t.Shell(kw, shell=node.args)


def _run(node: Instruction, kw: str) -> t.Command:
    flags = parse_flags(node.flags, _RUN_FLAGS)
    if not node.args or (not node.json and not "".join(node.args).strip()):
        raise _at_least_one(kw)
    network = flags.string("network", "default")
    if "$" not in network and network not in NETWORK_MODES:
        raise InstructionError(with_hint(f'unsupported network mode "{network}"', network, NETWORK_MODES))
    security = flags.string("security", "sandbox")
    if "$" not in security and security not in SECURITY_MODES:
        raise InstructionError(f'unsupported security mode "{security}"')
    mounts = tuple(parse_mount(m) for m in flags.strings("mount"))
    command, shell_form = _command_line(node)
    return t.Run(kw, command=command, shell_form=shell_form, files=node.heredocs,
                 mounts=mounts, network=network, security=security)


def _heredoc_word(word: str) -> Heredoc | None:
    """The heredoc a COPY/ADD word names; a malformed one is a plain path, as in BuildKit."""
    try:
        return parse_heredoc(word)
    except DockerfileError:
        return None


def _sources_and_dest(node: Instruction, kw: str):
    if len(node.args) < 2:
        raise InstructionError(
            f"{kw} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    *srcs, dest = node.args
    if _heredoc_word(dest) is not None:
        raise InstructionError(f"{kw} cannot accept a heredoc as a destination")
    bodies = {h.name: h for h in node.heredocs}
    paths, contents = [], []
    for src in srcs:
        doc = _heredoc_word(src) if not node.json else None
        if doc is None:
            paths.append(src)
            continue
        body = bodies.get(doc.name)
        data = body.body if body is not None else ""
        contents.append(t.SourceContent(path=doc.name, data=data, expand=doc.expand))
    return tuple(paths), tuple(contents), dest


def _check_chmod(flags: FlagValues) -> str:
    chmod = flags.string("chmod")
    if chmod and "$" not in chmod and not _CHMOD.match(chmod):
        raise InstructionError(f"invalid chmod parameter: {chmod!r}. it should be octal string and between "
                               "0 and 07777, or a symbolic mode (u+x)")
    return chmod


def _copy(node: Instruction, kw: str) -> t.Command:
    flags = parse_flags(node.flags, _COPY_FLAGS)
    sources, contents, dest = _sources_and_dest(node, kw)
    return t.Copy(kw, sources=sources, contents=contents, dest=dest,
                  from_=flags.string("from"), chown=flags.string("chown"),
                  chmod=_check_chmod(flags), link=flags.bool("link"),
                  parents=flags.bool("parents"), excludes=flags.strings("exclude"))


def _add(node: Instruction, kw: str) -> t.Command:
    flags = parse_flags(node.flags, _ADD_FLAGS)
    sources, contents, dest = _sources_and_dest(node, kw)
    return t.Add(kw, sources=sources, contents=contents, dest=dest,
                  chown=flags.string("chown"), chmod=_check_chmod(flags),
                  link=flags.bool("link"), keep_git_dir=flags.bool("keep-git-dir"),
                  checksum=flags.string("checksum"), excludes=flags.strings("exclude"),
                  unpack=flags.bool("unpack") if flags.given("unpack") else None,
                  user_agent=flags.string("user-agent"))


def _onbuild(node: Instruction, kw: str) -> t.Command:
    _no_flags(node)
    if node.child is None:
        raise _at_least_one(kw)
    trigger_kw = node.child.name.upper()
    if trigger_kw == "ONBUILD":
        raise InstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger_kw in ("MAINTAINER", "FROM"):
        raise InstructionError(f"{trigger_kw} isn't allowed as an ONBUILD trigger")
    trigger = parse_instruction(node.child)
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", node.original, count=1)
    for doc in node.heredocs:
        expression += "\n" + doc.content + doc.name
    return t.Onbuild(kw, expression=expression, trigger=trigger)


_BUILDERS: dict[str, Callable[[Instruction, str], t.Command]] = {
    "add": _add,
    "arg": _arg,
    "cmd": _cmd,
    "copy": _copy,
    "entrypoint": _entrypoint,
    "env": _env,
    "expose": _expose,
    "healthcheck": parse_healthcheck,
    "label": _label,
    "maintainer": _single(t.Maintainer, "name"),
    "onbuild": _onbuild,
    "run": _run,
    "shell": _shell,
    "stopsignal": _single(t.StopSignal, "signal"),
    "user": _single(t.User, "user"),
    "volume": _volume,
    "workdir": _single(t.Workdir, "path"),
}
INSTRUCTION_NAMES = tuple(sorted(_BUILDERS) + ["from"])


def _unknown(keyword: str) -> InstructionError:
    names = [n.upper() for n in INSTRUCTION_NAMES] if keyword.isupper() else INSTRUCTION_NAMES
    return InstructionError(with_hint(f"unknown instruction: {keyword}", keyword, names))


def parse_instruction(node: Instruction) -> t.Command:
    """A non-FROM instruction to its typed command."""
    build = _BUILDERS.get(node.name)
    if build is None:
        raise _unknown(node.keyword).at(node.start_line, node.end_line)
    try:
        cmd = build(node, node.name.upper())
    except DockerfileError as err:
        raise err.at(node.start_line, node.end_line) from None
    return _located(cmd, node)


def _located(cmd, node: Instruction):
    return replace(cmd, original=node.original, start_line=node.start_line, end_line=node.end_line)


def _stage(node: Instruction, index: int) -> t.Stage:
    flags = parse_flags(node.flags, {"platform": STRING})
    args = node.args
    name = ""
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise InstructionError(
                f'invalid name for build stage: "{args[2]}", '
                "name can't start with a number or contain symbols"
            )
    elif len(args) != 1:
        raise InstructionError("FROM requires either one or three arguments")
    comment = ""
    if name:
        for line in node.comments:
            if line.startswith(name + " "):
                comment = line[len(name) + 1 :]
                break
    return t.Stage(base_name=args[0], name=name, index=index,
                   platform=flags.string("platform"), original=node.original,
                   start_line=node.start_line, end_line=node.end_line, comment=comment)


def _require_utf8(node: Instruction) -> None:
    """An instruction's text must be UTF-8 to be built: its words become JSON, cache keys and
    file names. (Bytes that are not survive parsing as surrogate escapes, for `parse --dump`.)"""
    texts = [node.original, *(doc.content for doc in node.heredocs)]
    if any(not text.isascii() and _SURROGATE.search(text) for text in texts):
        raise InstructionError(f"{node.keyword.upper()}: the instruction is not valid UTF-8").at(
            node.start_line, node.end_line)


_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_dockerfile(tree: Dockerfile) -> t.DockerfilePlan:
    """The syntax tree to ARGs-before-FROM plus stages; raises InstructionError."""
    meta_args: list[t.Arg] = []
    stages: list[t.Stage] = []
    commands: list[list[t.Command]] = []
    names: set[str] = set()
    for node in tree.instructions:
        _require_utf8(node)
        if node.name == "from":
            try:
                stage = _stage(node, len(stages))
            except InstructionError as err:
                raise err.at(node.start_line, node.end_line) from None
            if stage.name and stage.name in names:
                raise InstructionError(f'duplicate stage name "{stage.name}"').at(
                    node.start_line, node.end_line)
            names.add(stage.name)
            stages.append(stage)
            commands.append([])
            continue
        cmd = parse_instruction(node)
        if not stages:
            if isinstance(cmd, t.Arg):
                meta_args.append(cmd)
                continue
            raise InstructionError("no build stage in current context").at(
                node.start_line, node.end_line)
        commands[-1].append(cmd)
    if not stages:
        line = tree.instructions[-1].end_line if tree.instructions else 0
        raise InstructionError("the Dockerfile has no FROM instruction").at(line)
    built = tuple(
        replace(st, commands=tuple(cmds),
                end_line=cmds[-1].end_line if cmds else st.end_line)
        for st, cmds in zip(stages, commands)
    )
    return t.DockerfilePlan(meta_args=tuple(meta_args), stages=built, escape=tree.escape)
