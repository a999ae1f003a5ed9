"""Sizes written the way docker takes them: `64m`, `1g`, `512KiB`, plain bytes."""

from __future__ import annotations

import re

_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(value: str) -> int:
    """docker's units.RAMInBytes; raises ValueError naming the value."""
    m = _SIZE.match(value.strip())
    if not m:
        raise ValueError(f"invalid size: '{value}'")
    return int(float(m.group(1)) * _UNITS.get((m.group(2) or "").lower(), 1))
