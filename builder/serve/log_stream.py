"""GET /containers/{id}/logs's bytes: the log from its last `tail` lines (or all), only the
lines written since a time, each with its time (`timestamps`), and, with `follow`, what the
container writes until it exits. A generator of chunks; an empty chunk is a tick while it
waits; following stops when the client has gone."""

from __future__ import annotations

import time
from collections import deque

from .jsonstream import client_gone

CHUNK = 65536
POLL = 0.1


def log_chunks(c, f, tail: int, since: float | None, timestamps: bool, follow: bool, conn=None):
    from ..containers.lifecycle import still_running
    from ..containers.logfile import tail_offset

    def running() -> bool:
        return still_running(c) and not (conn is not None and client_gone(conn))

    with f:
        if timestamps or since is not None:
            yield from _timed(c, f, tail, since, timestamps, follow, running)
            return
        f.seek(tail_offset(f, tail) if tail >= 0 else 0)
        while True:
            data = f.read(CHUNK)
            if data:
                yield data
            elif not follow:
                return
            elif not running():
                while data := f.read(CHUNK):
                    yield data
                return
            else:
                time.sleep(POLL)


def _timed(c, f, tail: int, since: float | None, timestamps: bool, follow: bool, running):
    from ..containers.logtimes import LineTimes, stamp

    times = LineTimes(c.path / "log", 0, running)
    end = f.seek(0, 2)
    f.seek(0)
    kept: deque = deque(maxlen=tail if tail >= 0 else None)
    offset, pending, past_end = 0, b"", False

    def lines(data: bytes):
        nonlocal offset, pending
        pending += data
        *whole, pending = pending.split(b"\n")
        for line in whole:
            when = times.at(offset)
            offset += len(line) + 1
            if since is None or when >= since * 1e9:
                yield (stamp(when) if timestamps else b"") + line + b"\n"

    while True:
        data = f.read(CHUNK)
        if data:
            out = list(lines(data))
            if not past_end:
                kept.extend(out)
                if f.tell() >= end:
                    past_end = True
                    yield b"".join(kept)
                    kept.clear()
                continue
            yield b"".join(out)
            continue
        if not past_end:
            past_end = True
            yield b"".join(kept)
        if follow and running():
            time.sleep(POLL)
            continue
        if pending:
            when = times.at(offset)
            if since is None or when >= since * 1e9:
                yield (stamp(when) if timestamps else b"") + pending
        return
