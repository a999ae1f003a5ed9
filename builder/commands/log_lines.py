"""`cairn logs -t` and `--since`: the log's lines with the time each was written (from
containers/logindex.py), as docker prints them (`2026-11-30T11:44:05.123456789Z line`),
streamed: memory stays bounded whatever the log holds."""

from __future__ import annotations

import sys

from ..containers.logtimes import LineTimes
from ..containers.logtimes import stamp


def write_timed(c, f, offset: int, since: float | None, timestamps: bool, follow: bool, running) -> None:
    """Write the log from `offset` (where the --tail lines start: docker cuts the tail first,
    then drops what is older than --since; lines are written in time order, so that is also
    the last N lines of those since), each line after `since` with its time if asked."""
    from ..containers.logfile import lines_from

    out = sys.stdout.buffer
    times = LineTimes(c.path / "log", offset, running)
    since_ns = since * 1e9 if since is not None else None
    for line_offset, line in lines_from(f, offset, running, follow):
        when = times.at(line_offset)
        if since_ns is None or when >= since_ns:
            out.write((stamp(when) if timestamps else b"") + line)
            if follow:
                out.flush()
    out.flush()
