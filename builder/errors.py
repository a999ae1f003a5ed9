"""The errors cairn reports to a user, and which exit code each one means.

    grammar.DockerfileError        a Dockerfile problem at a line span        exit 2
    ├── grammar.ShellWordError     a word variable expansion rejects
    └── instructions.errors.InstructionError
                                   an instruction that parses but is invalid
                                   (argument count, flag, stage name, ...)
    CairnError                     anything else cairn reports                 exit 1
    └── UsageError                 a bad command-line value, named             exit 2
        └── Refused                docker's meaning cannot hold here (a hint)  exit 2
                                   (`cairn run` exits 125 for its other errors, as docker)

Only builder.cli formats these and picks exit codes; everything else raises. (This module
imports nothing, so every command can afford it at start-up.)
"""

from __future__ import annotations


class CairnError(Exception):
    exit_code = 1


class UsageError(CairnError):
    exit_code = 2


class Refused(UsageError):
    """Docker's meaning cannot hold here: refused with a hint saying why (exit 2, in every
    command, also in `cairn run`, whose other errors exit 125 as docker run's do)."""


def located(filename: str, line: int, message: str) -> str:
    """`Dockerfile:LINE: message`: how every error at a Dockerfile line is written."""
    return f"{filename}:{line}: {message}"
