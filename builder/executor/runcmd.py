"""What a RUN executes (argv, and the script file a `#!` heredoc becomes) and how its
failure is reported; light enough to import for cache keys without loading the runtime.

Heredocs follow BuildKit: `RUN <<EOF` alone runs the body through SHELL (so SHELL
["/bin/awk"] gets the body as its program); a body starting with `#!` is written to
/dev/pipes/NAME (mode 0755) and that file is run, so its interpreter runs it; any other
use (`cat <<EOF | sh`, `3<<IN cmd`, `<<EOF sh > file`) is handed to the shell with the
bodies put back after the line, and the shell reads them as here-documents.
"""

from __future__ import annotations

from grammar import parse_heredoc
from runtime.record import Record, record

from ..errors import CairnError
from ..instructions import types as t
from .state import StageState

SCRIPT_DIR = "/dev/pipes"


class RunFailed(CairnError):
    """A RUN that could not start (output None) or that exited non-zero (output: its last lines)."""

    def __init__(self, message: str, code: int, output: tuple[str, ...] | None = None):
        super().__init__(message)
        self.code = code
        self.output = output


@record
class Script(Record):
    """A `#!` heredoc, bound read-only at /dev/pipes/NAME while the RUN runs."""

    name: str
    data: str

    @property
    def path(self) -> str:
        return f"{SCRIPT_DIR}/{self.name}"


def _single_heredoc(cmd: t.Run) -> bool:
    """The command line is one heredoc opener and nothing else (`RUN <<EOF`)."""
    text = cmd.command[0].strip()
    return bool(cmd.files) and " " not in text and "\t" not in text and parse_heredoc(text) is not None


def heredoc_script(cmd: t.Run) -> Script | None:
    if not cmd.shell_form or not _single_heredoc(cmd) or not cmd.files[0].body.startswith("#!"):
        return None
    name = cmd.files[0].name
    if "/" in name or name in (".", ".."):
        raise CairnError(f"RUN heredoc name {name!r} cannot be a script file name")
    return Script(name, cmd.files[0].body)


def run_command(state: StageState, cmd: t.Run) -> list[str]:
    """The argv a RUN executes (shell form through SHELL)."""
    if not cmd.shell_form:
        return list(cmd.command)
    shell = list(state.config.get("Shell") or ["/bin/sh", "-c"])
    text = cmd.command[0]
    if cmd.files:
        script = heredoc_script(cmd)
        if script is not None:
            return shell + [script.path]
        if _single_heredoc(cmd):
            return shell + [cmd.files[0].body]
        # the shell reads the bodies as here-documents: each body, then its terminator
        return shell + [text + "".join(f"\n{doc.content}{doc.name}" for doc in cmd.files)]
    return shell + [text]


def run_key(state: StageState, cmd: t.Run) -> list[str]:
    """What the cache key holds of the command: the argv, and a `#!` script's content."""
    script = heredoc_script(cmd)
    return run_command(state, cmd) + ([f"#script {script.name}", script.data] if script else [])
