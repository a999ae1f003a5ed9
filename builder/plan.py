"""Which stages a build runs, in what order, and what each one starts from.

Stages are the nodes; edges come from `FROM <stage>`, `COPY --from=<stage|index>` and
`RUN --mount=from=<stage>` (after expanding build args). Only the stages the target
needs are built. The order is a topological one (each stage after those it uses), and
`levels` groups stages that can run at the same time.
"""

from __future__ import annotations

from dataclasses import replace

import grammar
from runtime.record import Record, record

from .args import GlobalScope
from .errors import CairnError
from .instructions import types as t
from .instructions.errors import InstructionError
from .instructions.mounts import parse_mount
from .instructions.suggest import with_hint


@record
class BaseRef(Record):
    """What a stage starts FROM: another stage (by index), `scratch`, an image reference, or a
    named context (`--build-context NAME=...`, by its normalised name)."""

    stage: int | None = None
    image: str | None = None
    context: str | None = None

    @property
    def scratch(self) -> bool:
        return self.stage is None and self.image is None and self.context is None


@record
class PlannedStage(Record):
    index: int
    stage: t.Stage
    base: BaseRef
    deps: frozenset[int]  # stages this one needs (its base included)
    platform: str
    replaced: bool = False  # a named context of the stage's name is the stage: none of its commands run


@record
class BuildPlan(Record):
    stages: tuple[PlannedStage, ...]  # only the needed ones, in build order
    target: int
    levels: tuple[tuple[int, ...], ...]  # stages that may run in parallel, level by level


def _empty_platform(expression: str, g: GlobalScope) -> str:
    missing = sorted(grammar.ShellLexer(g.escape).process(expression, g.values).unmatched)
    return with_hint(f"empty platform value from expression {expression}", missing[0], list(g.values),
                     case_sensitive=True) if missing else f"empty platform value from expression {expression}"


def _stage_index(plan: t.DockerfilePlan, name: str) -> int | None:
    """A stage by name (case-insensitive) or by index."""
    index = plan.stage_names.get(name.lower())
    if index is not None:
        return index
    if name.isdecimal():
        idx = int(name)
        if idx < len(plan.stages):
            return idx
    return None


def _from_deps(plan: t.DockerfilePlan, st: t.Stage, g: GlobalScope, commands: list[t.Command],
               replaced: frozenset[int] = frozenset()) -> tuple[set[int], list[tuple[str, t.Command]]]:
    """Stages used by COPY --from and RUN --mount=from in these commands of a stage (expanded
    with globals), and the COPY --from references to this stage or a later one (an error if
    the stage is built). A stage a named context replaced is read from that context: no
    dependency."""
    deps: set[int] = set()
    late: list[tuple[str, t.Command]] = []
    for cmd in commands:
        refs: list[tuple[str, t.Command]] = []
        if isinstance(cmd, t.Copy) and cmd.from_:
            refs.append((cmd.from_, cmd))
        if isinstance(cmd, t.Run):
            for m in cmd.mounts:
                if m.from_:
                    refs.append((m.from_, cmd))
                elif "$" in m.raw and "from=" in m.raw:
                    expanded = parse_mount(m.raw, g.expand)
                    if expanded.from_:
                        refs.append((expanded.from_, cmd))
        for ref, where in refs:
            name = g.expand(ref) if "$" in ref else ref
            if not name.strip():
                # BuildKit's words: only a stage named through a global ARG can be meant
                raise InstructionError("variable expansion is not supported for --from, define a new stage "
                                       "with FROM using ARG from global scope as a workaround").at(where.start_line)
            idx = _stage_index(plan, name)
            if idx is not None and idx not in replaced:
                deps.add(idx)
                if isinstance(where, t.Copy) and idx >= st.index:
                    late.append((name, where))
    return deps, late


def stage_triggers(plan: t.DockerfilePlan, base: int) -> list[t.Command]:
    """The ONBUILD triggers a stage FROM stage `base` runs first: that stage's ONBUILD lines."""
    return [cmd.trigger for cmd in plan.stages[base].commands if isinstance(cmd, t.Onbuild) and cmd.trigger]


def plan_build(plan: t.DockerfilePlan, g: GlobalScope, target: str | None = None,
               image_triggers: dict[int, list[t.Command]] | None = None, named=None) -> BuildPlan:
    """Resolve bases and dependencies; raises InstructionError/CairnError for bad targets,
    unknown stages used by index, and cycles. The ONBUILD triggers a stage inherits are
    resolved against this file's stages, as BuildKit does: those of a stage base are read
    here, those of an image base come in `image_triggers` (stage index -> commands).

    `named(name)` is the named context a name means, or None. As in BuildKit, a context
    named as a stage replaces the whole stage; otherwise a FROM naming an earlier stage
    takes that stage, and only then may a context replace the base image."""
    if target:
        tgt = _stage_index(plan, target)
        if tgt is None:
            names = [st.name for st in plan.stages if st.name]
            raise CairnError(with_hint(f'target stage "{target}" could not be found', target, names))
    else:
        tgt = len(plan.stages) - 1
    g.set_target_stage(plan.stages[tgt].name or target or "")
    for arg in plan.meta_args:
        for decl in arg.args:
            g.declare(decl)

    planned: dict[int, PlannedStage] = {}
    late: dict[int, list[tuple[str, t.Command]]] = {}
    named = named or (lambda name: None)
    replaced = frozenset(st.index for st in plan.stages if st.name and named(st.name))
    for st in plan.stages:
        try:
            base_name = g.expand(st.base_name)
            platform = g.expand(st.platform) if st.platform else ""
        except grammar.ShellWordError as err:
            raise err.at(st.start_line, st.start_line) from None
        if st.platform and not platform:  # as BuildKit: a --platform that expands to nothing is an error
            raise InstructionError(_empty_platform(st.platform, g)).at(st.start_line, st.start_line)
        if st.index in replaced:
            planned[st.index] = PlannedStage(st.index, replace(st, commands=()), BaseRef(context=named(st.name)),
                                             frozenset(), platform, replaced=True)
            late[st.index] = []
            continue
        if not base_name:
            raise InstructionError("base name (FROM) should not be blank").at(st.start_line)
        base_idx = _stage_index(plan, base_name)
        if base_idx is not None and plan.stages[base_idx].name == base_name.lower() and base_idx >= st.index:
            raise InstructionError(f'stage "{st.name or st.index}" cannot use stage "{base_name}" as its base: '
                                   "a stage can only start FROM an earlier one").at(st.start_line)
        if base_idx is not None and plan.stages[base_idx].name != base_name.lower():
            base_idx = None  # a bare number in FROM is an image name, not a stage index
        if base_idx is not None:
            base = BaseRef(stage=base_idx)
        elif base_name.lower() == "scratch":
            base = BaseRef()
        elif named(base_name):
            base = BaseRef(context=named(base_name))
        else:
            base = BaseRef(image=base_name)
        triggers = stage_triggers(plan, base.stage) if base.stage is not None and base.stage not in replaced else \
            (image_triggers or {}).get(st.index, [])
        deps, late[st.index] = _from_deps(plan, st, g, triggers + list(st.commands), replaced)
        if base.stage is not None:
            deps.add(base.stage)
        planned[st.index] = PlannedStage(st.index, st, base, frozenset(deps), platform)

    needed = _needed(plan, planned, tgt)
    for i in needed:  # (after the cycle check, as BuildKit, which builds the stages in file order)
        for name, where in late[i]:
            raise InstructionError(f'cannot copy from stage "{name}", it needs to be defined before current '
                                   f'stage "{plan.stages[i].name or f"stage-{i}"}"').at(where.start_line)
    depth: dict[int, int] = {}
    for i in needed:
        depth[i] = 1 + max((depth[d] for d in planned[i].deps), default=-1)
    levels = tuple(tuple(i for i in needed if depth[i] == lvl) for lvl in range(max(depth.values()) + 1))
    return BuildPlan(tuple(planned[i] for i in needed), tgt, levels)


def _needed(plan: t.DockerfilePlan, planned: dict[int, PlannedStage], tgt: int) -> list[int]:
    """The stages the target needs, each after its dependencies (depth first, in index order;
    without recursion, so a long chain of stages cannot exhaust Python's stack)."""
    needed: list[int] = []
    state: dict[int, str] = {tgt: "active"}
    path = [tgt]
    pending = [iter(sorted(planned[tgt].deps))]
    while pending:
        d = next(pending[-1], None)
        if d is None:
            pending.pop()
            done = path.pop()
            state[done] = "done"
            needed.append(done)
        elif state.get(d) == "active":
            cycle = " -> ".join(str(plan.stages[j].name or j) for j in path + [d])
            raise InstructionError(f"circular dependency between stages: {cycle}").at(plan.stages[d].start_line)
        elif state.get(d) != "done":
            state[d] = "active"
            path.append(d)
            pending.append(iter(sorted(planned[d].deps)))
    return needed
