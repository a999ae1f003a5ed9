"""Go's time.ParseDuration, which HEALTHCHECK's --interval and friends are read with."""

from __future__ import annotations

import re

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"(\d*)(?:\.(\d*))?([a-zµμ]*)")
_MAX = (1 << 63) - 1


def parse_duration(text: str) -> int:
    """Nanoseconds; raises ValueError with Go's message for malformed text."""
    orig = text
    bad = ValueError(f'invalid duration "{orig}" (write it like 30s, 1m30s or 500ms)')
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise bad
    total = 0
    while text:
        m = _PART.match(text)
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not frac:
            raise bad
        if not unit:
            raise ValueError(f'missing unit in duration "{orig}" (write it like 30s, 1m30s or 500ms)')
        if unit not in _UNITS_NS:
            raise ValueError(f'unknown unit "{unit}" in duration "{orig}" (units: ns, us, ms, s, m, h)')
        scale = _UNITS_NS[unit]
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // (10 ** len(frac))
        total += value
        if total > _MAX:
            raise bad
        text = text[m.end():]
    return sign * total


def format_duration(ns: int) -> str:
    """A short human form (`30s`, `1m30s`, `500ms`) for messages."""
    if ns % 1_000_000_000 == 0:
        s = ns // 1_000_000_000
        h, rem = divmod(s, 3600)
        m, s = divmod(rem, 60)
        out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s or not (h or m) else "")
        return out
    if ns % 1_000_000 == 0:
        return f"{ns // 1_000_000}ms"
    return f"{ns}ns"
