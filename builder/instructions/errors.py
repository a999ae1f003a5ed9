"""InstructionError: an instruction that parses but is invalid (see builder.errors for the tree)."""

from __future__ import annotations

from grammar import DockerfileError


class InstructionError(DockerfileError):
    """An instruction that is well-formed text but not a valid instruction."""
