"""`cairn logs -t` and `--since`: the log's lines with the time each was written (from
containers/logindex.py), as docker prints them (`2026-11-30T11:44:05.123456789Z line`)."""

from __future__ import annotations

import sys
from collections import deque

from ..containers.logtimes import LineTimes as _Times
from ..containers.logtimes import stamp


def write_timed(c, f, offset: int, tail: int, since: float | None, timestamps: bool, follow: bool,
                running) -> None:
    from ..containers.logfile import lines_from

    out = sys.stdout.buffer
    times = _Times(c.path / "log", offset, running)
    kept: deque = deque(maxlen=tail if tail >= 0 and since is not None else None)
    end = f.seek(0, 2)
    next_offset = offset
    for line_offset, line in lines_from(f, offset, running, False):
        if line_offset + len(line) > end or not line.endswith(b"\n"):
            break  # the line being written: phase two takes it
        next_offset = line_offset + len(line)
        when = times.at(line_offset)
        if since is None or when >= since * 1e9:
            kept.append((when, line))
    for when, line in kept:
        out.write((stamp(when) if timestamps else b"") + line)
    out.flush()
    _rest(out, f, next_offset, times, since, timestamps, running, follow)


def _rest(out, f, offset, times, since, timestamps, running, follow) -> None:
    from ..containers.logfile import lines_from

    for line_offset, line in lines_from(f, offset, running, follow):
        when = times.at(line_offset)
        if since is None or when >= since * 1e9:
            out.write((stamp(when) if timestamps else b"") + line)
            out.flush()
