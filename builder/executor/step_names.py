"""How progress names a step, as BuildKit does: `[NAME i/n] RUN ...`, NAME the stage's name,
`stage-N` for an unnamed one, nothing when the file has one stage; i counts within the stage
the steps that make a layer or a directory (FROM an image, RUN, COPY, ADD, WORKDIR), n is
their total. Other instructions are shown with the name alone."""

from __future__ import annotations

import grammar

from ..instructions import types as t
from ..plan import PlannedStage

_COUNTED = (t.Run, t.Copy, t.Add, t.Workdir)


def step_label(ps: PlannedStage, stage_count: int) -> str:
    if stage_count == 1:
        return ""
    return ps.stage.name or f"stage-{ps.index}"


class StepNumbers:
    def __init__(self, from_image: bool, commands: list[t.Command]):
        self.from_image = from_image
        self.total = int(from_image) + sum(isinstance(c, _COUNTED) for c in commands)
        self.done = 0

    def first(self) -> str | None:
        """The FROM line's `1/n` (only an image base is a step of its own)."""
        if not self.from_image:
            return None
        self.done = 1
        return f"1/{self.total}"

    def next(self, cmd: t.Command) -> str | None:
        if not isinstance(cmd, _COUNTED):
            return None
        self.done += 1
        return f"{self.done}/{self.total}"


def step_numbers(ps: PlannedStage, commands: list[t.Command]) -> StepNumbers:
    return StepNumbers(ps.base.image is not None, commands)


def from_text(ps: PlannedStage, expand) -> str:
    """The FROM line as BuildKit shows it: the base with its ARGs expanded (`FROM busybox:1.36`
    for `FROM ${BASE} AS build`); the text as written if it does not expand."""
    try:
        return f"FROM {expand(ps.stage.base_name)}"
    except grammar.DockerfileError:  # (the plan expanded it once already)
        return ps.stage.original
