"""Each needed stage's platform, and the refusal of RUN where no program can run.

A stage runs on the platform its `FROM --platform=` names (expanded with the global ARGs,
BUILDPLATFORM among them), else on its base stage's, else on the target platform
(`--platform`, the host's by default). A stage whose platform is not the host's may COPY,
ADD and set metadata; a RUN in it (or an ONBUILD trigger's) is refused before any step
runs, with the hint to cross-build: cairn has no emulation."""

from __future__ import annotations

from .. import platforms
from ..errors import UsageError
from ..instructions import types as t
from ..instructions.errors import InstructionError
from ..plan import BuildPlan


def stage_platforms(bp: BuildPlan, target: dict) -> dict[int, dict]:
    """stage index -> platform, for the stages the build needs (bases come first in bp)."""
    out: dict[int, dict] = {}
    for ps in bp.stages:
        if ps.platform:
            try:
                out[ps.index] = platforms.parse(ps.platform, "FROM --platform")
            except UsageError as err:
                raise InstructionError(str(err)).at(ps.stage.start_line) from None
        elif ps.base.stage is not None and ps.base.stage in out:
            out[ps.index] = out[ps.base.stage]
        else:
            out[ps.index] = target
    return out


def refuse_foreign_runs(bp: BuildPlan, plats: dict[int, dict], triggers: dict[int, list] | None = None) -> None:
    """Raise `Dockerfile:LINE: RUN needs ...` for the first RUN in a stage that cannot run here."""
    for ps in bp.stages:
        plat = plats[ps.index]
        if platforms.runs_here(plat):
            continue
        for cmd in [*(triggers or {}).get(ps.index, []), *ps.stage.commands]:
            if isinstance(cmd, t.Run):
                raise InstructionError(platforms.refusal(plat, "RUN")).at(cmd.start_line, cmd.end_line)
