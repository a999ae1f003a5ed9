"""What a RUN executes (argv) and how its failure is reported; light enough to import for
cache keys without loading the runtime."""

from __future__ import annotations

from ..errors import CairnError
from ..instructions import types as t
from .state import StageState


class RunFailed(CairnError):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def run_command(state: StageState, cmd: t.Run) -> list[str]:
    """The argv a RUN executes (shell form through SHELL; `RUN <<EOF` runs its body)."""
    if not cmd.shell_form:
        return list(cmd.command)
    shell = list(state.config.get("Shell") or ["/bin/sh", "-c"])
    text = cmd.command[0]
    if cmd.files:
        opener = text.strip()
        if len(cmd.files) == 1 and opener.lstrip("0123456789").startswith("<<") and " " not in opener:
            return shell + [cmd.files[0].body]
        raise CairnError("a RUN heredoc used as input to a command is not supported yet; "
                         "write `RUN <<EOF` with the script as its body")
    return shell + [text]
