"""HEALTHCHECK: its type (CMD or NONE), command and flags (intervals, retries), as
BuildKit reads them."""

from __future__ import annotations

import re

from grammar import Instruction

from . import types as t
from .durations import format_duration, parse_duration
from .errors import InstructionError
from .flags import STRING, FlagValues, parse_flags

_MIN_DURATION_NS = 1_000_000  # intervals under 1ms are refused
_HEALTH_FLAGS = {"interval": STRING, "timeout": STRING, "start-period": STRING,
                 "start-interval": STRING, "retries": STRING}


def _interval(flags: FlagValues, name: str) -> int:
    text = flags.string(name)
    if not text:
        return 0
    try:
        ns = parse_duration(text)
    except ValueError as err:
        raise InstructionError(f"--{name}: {err}") from None
    if ns == 0:
        return 0
    if ns < _MIN_DURATION_NS:
        raise InstructionError(f"--{name} cannot be less than {format_duration(_MIN_DURATION_NS)}")
    return ns


def parse_healthcheck(node: Instruction, kw: str) -> t.Command:
    if not node.args:
        raise InstructionError(f"{kw} requires at least one argument")
    typ = node.args[0].upper()
    rest = node.args[1:]
    if typ == "NONE":
        parse_flags(node.flags, {})  # (refuses any flag)
        if rest:
            raise InstructionError("HEALTHCHECK NONE takes no arguments")
        return t.Healthcheck(kw, test=("NONE",))
    flags = parse_flags(node.flags, _HEALTH_FLAGS)
    if typ != "CMD":
        raise InstructionError(f'Unknown type "{node.args[0]}" in HEALTHCHECK (try CMD)')
    if node.json:
        test = ("CMD",) + rest
        if not rest:
            raise InstructionError("Missing command after HEALTHCHECK CMD")
    else:
        line = " ".join(rest)
        if not line:
            raise InstructionError("Missing command after HEALTHCHECK CMD")
        test = ("CMD-SHELL", line)
    retries = 0
    if flags.string("retries"):
        text = flags.string("retries")
        try:
            retries = int(text, 10)
            if not re.fullmatch(r"[+-]?\d+", text) or abs(retries) >= 1 << 31:
                raise ValueError
        except ValueError:
            raise InstructionError(f'--retries: "{text}" is not a whole number') from None
        if retries < 0:
            raise InstructionError(f"--retries cannot be negative ({retries})")
    return t.Healthcheck(
        kw,
        test=test,
        interval_ns=_interval(flags, "interval"),
        timeout_ns=_interval(flags, "timeout"),
        start_period_ns=_interval(flags, "start-period"),
        start_interval_ns=_interval(flags, "start-interval"),
        retries=retries,
    )
