"""Errors raised while reading a Dockerfile.

    DockerfileError            a Dockerfile that cannot be read; carries its line span
    └── ShellWordError         a word that variable expansion rejects (`${x`, `${x?msg}`)

`builder.errors` grows this tree for the typed-instruction and planning stages; only the
CLI turns any of them into text (`Dockerfile:LINE: message`) and an exit code.
"""

from __future__ import annotations


class DockerfileError(Exception):
    """A problem at a place in a Dockerfile: lines are 1-based and inclusive; 0 = unknown."""

    def __init__(self, message: str, start_line: int = 0, end_line: int = 0):
        super().__init__(message)
        self.message = message
        self.start_line = start_line
        self.end_line = end_line or start_line

    def at(self, start_line: int, end_line: int = 0) -> "DockerfileError":
        """Attach a location unless one is known already; returns self for `raise ... from`."""
        if not self.start_line:
            self.start_line = start_line
            self.end_line = end_line or start_line
        return self

    def __str__(self) -> str:
        return self.message


class ShellWordError(DockerfileError):
    """Variable expansion failed on a word."""
