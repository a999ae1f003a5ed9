"""The cairn CLI run in the test's own process, for commands that only read the store
(ps, images, version, --help): the same entry point as the `cairn` script, without the
start-up of a new Python for every command line."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cairn(*args: str, root=None) -> Result:
    from builder.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*(["--root", str(root)] if root is not None else []), *args])
    return Result(code, out.getvalue(), err.getvalue())
