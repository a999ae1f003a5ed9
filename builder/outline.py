"""What a Dockerfile offers, read without running a step: `--call outline` and `--call targets`.

`targets(raw)` lists every stage (name, description, the default one, base and platform as
written); `outline(raw, target, build_args)` lists what the target's build consumes: the
build args of the stages it needs (global ones only when a FROM or a stage uses them,
through other globals too), the secret and ssh ids of their RUN mounts, each with the
Dockerfile line it comes from. Both return dicts in the JSON shape of BuildKit's
frontend.outline / frontend.targets results (field names included), so scripts that read
buildx's `--call outline,format=json` read ours. A description is the comment above a
FROM or ARG that starts with the stage's or arg's name. No image is pulled: a base image's
ENV is not known here, so a value built from it expands without it.
"""

from __future__ import annotations

import base64
import os
from collections import deque
from dataclasses import dataclass, field

import grammar

from .args import GlobalScope, StageScope
from .executor.run_mounts import expand_mounts
from .instructions import parse_dockerfile
from .instructions import types as t
from .plan import plan_build, stage_triggers

SSH_DEFAULT_ID = "default"


def location(line: int, end: int | None = None) -> dict:
    """BuildKit's pb.Location as its JSON shows it (source index 0 and characters 0 left out)."""
    return {"ranges": [{"start": {"line": line}, "end": {"line": end or line}}]}


def descriptions(comments) -> dict[str, str]:
    """Name -> description from the comments just above an instruction: the text after
    `# NAME ` (the first comment that starts with the name wins)."""
    out: dict[str, str] = {}
    for line in comments:
        name, space, text = line.partition(" ")
        if space:
            out.setdefault(name, text)
    return out


def _sources(raw: bytes) -> list[str]:
    return [base64.b64encode(raw).decode()]  # Go marshals []byte as base64


def targets(raw: bytes) -> dict:
    tree = grammar.parse(raw)
    plan = parse_dockerfile(tree)
    names = {node.start_line: node for node in tree.instructions}
    out = []
    for st in plan.stages:
        node = names[st.start_line]
        name = node.args[2] if len(node.args) == 3 else ""  # as written (stage names match any case)
        entry: dict = {"name": name} if name else {}
        if st.index == len(plan.stages) - 1:
            entry["default"] = True
        if st.comment:
            entry["description"] = st.comment
        entry["base"] = st.base_name
        if st.platform:
            entry["platform"] = st.platform
        entry["location"] = location(st.start_line, node.end_line)
        out.append(entry)
    return {"targets": out, "sources": _sources(raw)}


@dataclass
class _ArgInfo:
    name: str
    value: str | None
    description: str
    line: int
    end: int
    deps: set[str] = field(default_factory=set)


def _expand(word: str, values: dict, escape: str, seen: set[str]) -> str:
    """The word expanded; the names it refers to (set or not) are added to `seen`."""
    result = grammar.ShellLexer(escape).process(word, values)
    seen |= result.matched | result.unmatched
    return result.word


def outline(raw: bytes, target: str | None, build_args: dict[str, str], platform: dict | None = None) -> dict:
    """The outline of `target` (default: the last stage); raises DockerfileError/CairnError as a
    build would for a bad file or target."""
    tree = grammar.parse(raw)
    plan = parse_dockerfile(tree)
    nodes = {node.start_line: node for node in tree.instructions}
    g = GlobalScope(dict(build_args), tree.escape, target=platform)
    bp = plan_build(plan, g, target)  # also declares the global ARGs in g
    globals_ = _global_args(plan, nodes, build_args, g)
    by_index = {ps.index: ps for ps in bp.stages}

    stage_args: dict[int, dict[str, _ArgInfo]] = {}
    used: dict[int, set[str]] = {}
    secrets: list[tuple[int, int, str, bool]] = []
    ssh: list[tuple[int, int, str, bool]] = []
    envs: dict[int, dict[str, str]] = {}
    for ps in bp.stages:  # build order: a base stage comes before the stages FROM it
        st = ps.stage
        seen: set[str] = set()
        for word in (st.base_name, st.platform):
            if word:
                _expand(word, g.values, tree.escape, seen)
        used[ps.index] = {name for name in seen if name in globals_}
        env = dict(envs.get(ps.base.stage, {})) if ps.base.stage is not None else {}
        scope = StageScope(g, env)
        declared: dict[str, _ArgInfo] = {}
        triggers = stage_triggers(plan, ps.base.stage) if ps.base.stage is not None else []
        for cmd in triggers + list(st.commands):
            try:
                _read(cmd, nodes, scope, globals_, used[ps.index], declared, secrets, ssh)
            except grammar.DockerfileError as err:
                raise err.at(cmd.start_line, cmd.end_line) from None
        envs[ps.index] = scope.env
        stage_args[ps.index] = declared

    args: dict[str, _ArgInfo] = {}
    for index in _visit_order(bp.target, by_index):  # the target's own first, as BuildKit
        for name, info in stage_args[index].items():
            args.setdefault(name, info)
        for name in sorted(_with_deps(used[index], globals_)):
            args.setdefault(name, globals_[name])

    st = plan.stages[bp.target]
    node = nodes[st.start_line]
    out: dict = {}
    if len(node.args) == 3:
        out["name"] = node.args[2]
    if st.comment:
        out["description"] = st.comment
    listed = [_arg_json(a) for a in sorted(args.values(), key=lambda a: a.line)]
    if listed:
        out["args"] = listed
    for key, found in (("secrets", secrets), ("ssh", ssh)):
        merged = _merge_mounts(found)
        if merged:
            out[key] = merged
    out["sources"] = _sources(raw)
    return out


def _read(cmd: t.Command, nodes, scope: StageScope, globals_: dict[str, _ArgInfo], used: set[str],
          declared: dict[str, _ArgInfo], secrets: list, ssh: list) -> None:
    """One command of a needed stage: its ARGs declared (a bare `ARG NAME` of a global uses the
    global), ENV applied, the secret and ssh ids of a RUN's mounts noted."""
    if isinstance(cmd, t.Arg):
        described = descriptions(nodes[cmd.start_line].comments) if cmd.start_line in nodes else {}
        for decl in cmd.args:
            scope.declare(decl)
            if decl.default is None and decl.name in globals_:
                used.add(decl.name)  # the global's value, description and line
                continue
            declared[decl.name] = _ArgInfo(decl.name, scope.args[decl.name],
                                           described.get(decl.name, ""), cmd.start_line, cmd.end_line)
    elif isinstance(cmd, t.Env):
        for kv in cmd.pairs:
            scope.set_env(kv.key, scope.expand(kv.value))
    elif isinstance(cmd, t.Run):
        for m in expand_mounts(cmd.mounts, scope.expand):
            if m.type == "secret":
                secrets.append((cmd.start_line, cmd.end_line, m.id or os.path.basename(m.target or ""), m.required))
            elif m.type == "ssh":
                ssh.append((cmd.start_line, cmd.end_line, m.id or SSH_DEFAULT_ID, m.required))


def _global_args(plan: t.DockerfilePlan, nodes, build_args: dict[str, str], g: GlobalScope) -> dict[str, _ArgInfo]:
    """The ARGs before the first FROM, with their values and the globals their defaults use."""
    out: dict[str, _ArgInfo] = {}
    values = GlobalScope({}, plan.escape, target=g.target).values
    for cmd in plan.meta_args:
        described = descriptions(nodes[cmd.start_line].comments) if cmd.start_line in nodes else {}
        for decl in cmd.args:
            deps: set[str] = set()
            if decl.name in build_args:
                value = build_args[decl.name]
            elif decl.default is not None:
                value = _expand(decl.default, values, plan.escape, deps)
            else:
                value = values.get(decl.name)
            if value is not None:
                values[decl.name] = value
            out[decl.name] = _ArgInfo(decl.name, value, described.get(decl.name, ""), cmd.start_line,
                                      cmd.end_line, {d for d in deps if d in out})
    return out


def _with_deps(names: set[str], globals_: dict[str, _ArgInfo]) -> set[str]:
    todo, done = list(names), set()
    while todo:
        name = todo.pop()
        if name in done or name not in globals_:
            continue
        done.add(name)
        todo.extend(globals_[name].deps)
    return done


def _visit_order(target: int, stages) -> list[int]:
    """The needed stages from the target: itself, its base, then the stages it copies from."""
    order: dict[int, None] = {}
    todo = deque([target])
    while todo:
        i = todo.popleft()
        if i in order or i not in stages:
            continue
        order[i] = None
        ps = stages[i]
        base = [ps.base.stage] if ps.base.stage is not None else []
        todo.extend(base + sorted(d for d in ps.deps if d not in base))
    return list(order)


def _arg_json(a: _ArgInfo) -> dict:
    out: dict = {"name": a.name}
    if a.description:
        out["description"] = a.description
    if a.value:
        out["value"] = a.value
    out["location"] = location(a.line, a.end)
    return out


def _merge_mounts(found: list[tuple[int, int, str, bool]]) -> list[dict]:
    """One entry per id, at its first line; required when any use requires it."""
    merged: dict[str, dict] = {}
    for line, end, name, required in sorted(found, key=lambda f: f[0]):
        entry = merged.setdefault(name, {"name": name, "location": location(line, end)})
        if required:
            entry["required"] = True
    return [{k: e[k] for k in ("name", "required", "location") if k in e} for e in merged.values()]
