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


def _base_image(bases, contexts, ps, planned: dict):
    """The image a stage starts from (an image, a named context's, or the one of a stage a
    named context replaced), or None."""
    if ps.base.image is not None:
        return bases.resolve(ps.base.image)
    key = ps.base.context
    if key is None and ps.base.stage is not None and planned[ps.base.stage].replaced:
        key = planned[ps.base.stage].base.context
    return contexts.load(key).image if key is not None else None


def _image_triggers(store, bases, contexts, ps, planned: dict) -> list[t.Command]:
    try:
        image = _base_image(bases, contexts, ps, planned)
        if image is None:
            return []
        _, config = images.load_documents(store, image)
    except (images.ImageNotFound, CairnError):
        return []  # the stage's own FROM reports it, when it runs
    expressions = (config.doc.get("config") or {}).get("OnBuild") or []
    return parse_triggers(list(expressions), ps.stage.start_line)


def plan_with_triggers(store, bases, plan: t.DockerfilePlan, g, target: str | None, contexts=None) -> BuildPlan:
    """plan_build, again with the ONBUILD triggers of every image base in the plan until no
    new stage comes in (a trigger may bring a stage whose own base has triggers). Only the
    named contexts the needed stages start from are loaded."""
    named = contexts.key if contexts is not None else None
    bp = plan_build(plan, g, target, named=named)
    seen: dict[int, list[t.Command]] = {}
    while True:
        planned = {ps.index: ps for ps in bp.stages}
        new = {ps.index: _image_triggers(store, bases, contexts, ps, planned) for ps in bp.stages
               if not ps.replaced and ps.base.stage is None and not ps.base.scratch and ps.index not in seen
               or ps.base.stage is not None and planned[ps.base.stage].replaced and ps.index not in seen}
        seen.update(new)
        if not any(new.values()):
            return bp
        bp = plan_build(plan, g, target, seen, named)
