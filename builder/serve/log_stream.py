"""GET /containers/{id}/logs's bytes as (stream, bytes) pieces: the log from its last `tail`
lines (or all), only the lines written since a time, each with its time (`timestamps`), and,
with `follow`, what the container writes until it exits (or the client has gone). A line
written with timestamps goes on the stream of its first byte."""

from __future__ import annotations

import time
from collections import deque

from .jsonstream import client_gone
from .log_streams import Streams

CHUNK = 65536
LONGEST = 16384  # a line without its end is sent in pieces of this size (as docker's log drivers split one)
POLL = 0.1


def log_chunks(c, f, tail: int, since: float | None, timestamps: bool, follow: bool, conn=None):
    from ..containers.dirs import process_alive
    from ..containers.lifecycle import still_running
    from ..containers.logfile import tail_offset

    def running() -> bool:  # (an API container's monitor lives on until its copier has written all)
        live = still_running(c) or process_alive(c.state().get("monitor"))
        return live and not (conn is not None and client_gone(conn))

    with f, Streams(c.path) as streams:
        if timestamps or since is not None:
            yield from _timed(c, f, tail, since, timestamps, follow, running, streams)
            return
        offset = f.seek(tail_offset(f, tail) if tail >= 0 else 0)
        while True:
            data = f.read(CHUNK)
            if not data and follow and running():
                time.sleep(POLL)
                continue
            if not data:
                data = f.read()  # (what came since the last look, once the container has ended)
                yield from streams.pieces(offset, data)
                return
            yield from streams.pieces(offset, data)
            offset += len(data)


def _timed(c, f, tail: int, since: float | None, timestamps: bool, follow: bool, running, streams):
    from ..containers.logtimes import LineTimes, stamp

    times = LineTimes(c.path / "log", 0, running)
    end = f.seek(0, 2)
    f.seek(0)
    kept: deque = deque(maxlen=tail if tail >= 0 else None)
    offset, pending, past_end = 0, b"", False

    def line_at(at: int, line: bytes):
        when = times.at(at)
        if since is None or when >= since * 1e9:
            return streams.pieces(at, line[:1])[0][0], (stamp(when) if timestamps else b"") + line
        return None

    def lines(data: bytes):
        nonlocal offset, pending
        pending += data
        *whole, pending = pending.split(b"\n")
        pieces = [line + b"\n" for line in whole]
        while len(pending) >= LONGEST:  # a line not ended yet: its first pieces go now
            pieces.append(pending[:LONGEST])
            pending = pending[LONGEST:]
        for line in pieces:
            got = line_at(offset, line)
            offset += len(line)
            if got is not None:
                yield got

    while True:
        data = f.read(CHUNK)
        if data:
            out = list(lines(data))
            if not past_end and tail >= 0:  # (all of it: sent as it is read, never held)
                kept.extend(out)
                if f.tell() >= end:
                    past_end = True
                    yield from kept
                    kept.clear()
                continue
            yield from out
            continue
        if not past_end:
            past_end = True
            yield from kept
        if follow and running():
            time.sleep(POLL)
            continue
        if pending and (got := line_at(offset, pending)) is not None:
            yield got
        return
