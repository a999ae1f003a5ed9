"""Typed, validated instructions built from grammar's syntax tree (see types.py)."""

from .parse import INSTRUCTION_NAMES, parse_dockerfile, parse_instruction
from .types import *  # noqa: F401,F403 - the command types are this package's vocabulary
from .types import DockerfilePlan, Stage

__all__ = ["INSTRUCTION_NAMES", "DockerfilePlan", "Stage", "parse_dockerfile", "parse_instruction"]
