"""The time each line of a detached container's log was written (from logindex.py's
records), and docker's form of a log time (`2026-11-30T11:44:05.123456789Z `)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def stamp(ns: int) -> bytes:
    """docker's RFC3339NanoFixed in UTC."""
    whole, nanos = divmod(ns, 1_000_000_000)
    text = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{nanos:09d}Z ".encode()


class LineTimes:
    """The time of each line, walking the index alongside the log."""

    def __init__(self, log, start: int, running):
        from .logindex import read_index

        self.entries = read_index(log, start)
        self.current = next(self.entries, None)
        self.last: int | None = None
        self.running = running

    def at(self, offset: int) -> int:
        while self.current is not None and self.current[1] <= offset:
            self.last = self.current[2]
            self.current = next(self.entries, None)
        if self.current is not None and self.current[0] <= offset:
            return self.current[2]
        if self.last is None or self.running():  # not indexed yet: being written now
            return time.time_ns()
        return self.last
