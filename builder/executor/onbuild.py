"""ONBUILD triggers: parsed from a base image's config (or a base stage's), run first in the
child stage, and planned with it: a trigger's `COPY --from` and `RUN --mount=from` name the
child's stages (or images), as in BuildKit, so those stages are built too."""

from __future__ import annotations

from dataclasses import replace

import grammar

from ..errors import CairnError
from ..instructions import types as t
from ..instructions.errors import InstructionError
from ..instructions.parse import parse_instruction
from ..plan import BuildPlan, plan_build
from ..store import images


def parse_triggers(expressions: list[str], line: int) -> list[t.Command]:
    """The triggers as commands, placed at the child's FROM line (where errors point)."""
    commands = []
    for expression in expressions:
        try:
            tree = grammar.parse(expression)
            for node in tree.instructions:
                cmd = parse_instruction(node)
                commands.append(replace(cmd, start_line=line, end_line=line))
        except grammar.DockerfileError as err:
            raise InstructionError(f"ONBUILD trigger {expression!r} of the base: {err.message}").at(line) from None
    return commands


def _image_triggers(store, bases, ps) -> list[t.Command]:
    try:
        image = bases.resolve(ps.base.image)
        _, config = images.load_documents(store, image)
    except (images.ImageNotFound, CairnError):
        return []  # the stage's own FROM reports it, when it runs
    expressions = (config.doc.get("config") or {}).get("OnBuild") or []
    return parse_triggers(list(expressions), ps.stage.start_line)


def plan_with_triggers(store, bases, plan: t.DockerfilePlan, g, target: str | None) -> BuildPlan:
    """plan_build, again with the ONBUILD triggers of every image base in the plan until no
    new stage comes in (a trigger may bring a stage whose own base has triggers)."""
    bp = plan_build(plan, g, target)
    seen: dict[int, list[t.Command]] = {}
    while True:
        new = {ps.index: _image_triggers(store, bases, ps) for ps in bp.stages
               if ps.base.image is not None and ps.index not in seen}
        seen.update(new)
        if not any(new.values()):
            return bp
        bp = plan_build(plan, g, target, seen)
