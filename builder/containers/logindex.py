"""When each line of a detached container's log was written, for `logs -t` and `--since`.

The container writes its output straight into `<container>/log`; a small indexer process,
forked by the monitor before the container starts, wakes on inotify's IN_MODIFY for that
file and appends `OFFSET NANOSECONDS` to `<container>/log.times` for every line that has
begun since (so the log itself is never delayed). It stops once the monitor has gone, after
a last look at the file.
"""

from __future__ import annotations

import ctypes
import os
import select
import time
from pathlib import Path

_IN_MODIFY = 0x2
_IN_CLOEXEC = 0o2000000
_BLOCK = 64 * 1024


def start_indexer(log: Path, close_fds: tuple[int, ...] = ()) -> None:
    """Fork the indexer (call while the process has one thread, before the container
    starts); returns at once in the caller."""
    parent = os.getpid()
    if os.fork():
        return
    code = 0
    try:
        for fd in close_fds:
            os.close(fd)
        _index(log, Path(str(log) + ".times"), parent)
    except BaseException:  # noqa: BLE001 - the index is best effort; never a traceback
        code = 1
    finally:
        os._exit(code)


def _index(log: Path, index: Path, parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    ino = libc.inotify_init1(_IN_CLOEXEC)
    src = os.open(log, os.O_RDONLY | os.O_CLOEXEC)
    out = os.open(index, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
    if ino >= 0:
        libc.inotify_add_watch(ino, str(log).encode(), _IN_MODIFY)
    offset, line_start = 0, True
    while True:
        gone = os.getppid() != parent
        offset, line_start = _scan(src, out, offset, line_start)
        if gone:
            return
        if ino >= 0:
            ready, _, _ = select.select([ino], [], [], 0.5)
            if ready:
                os.read(ino, 4096)
        else:
            time.sleep(0.1)


def _scan(src: int, out: int, offset: int, line_start: bool) -> tuple[int, bool]:
    """Index the lines begun after `offset`; returns the new offset and whether the next
    byte starts a line."""
    now = time.time_ns()
    while chunk := os.pread(src, _BLOCK, offset):
        records = []
        if line_start:
            records.append(offset)
        pos = chunk.find(b"\n")
        while pos >= 0:
            if pos + 1 < len(chunk):
                records.append(offset + pos + 1)
            pos = chunk.find(b"\n", pos + 1)
        line_start = chunk.endswith(b"\n")
        offset += len(chunk)
        if records:
            os.write(out, "".join(f"{r} {now}\n" for r in records).encode())
    return offset, line_start


def read_index(log: Path, start: int):
    """(offset, nanoseconds since the epoch) of every indexed line at or after `start`, in
    order, read lazily."""
    try:
        f = open(str(log) + ".times", "rb")  # noqa: SIM115 - closed by the generator
    except FileNotFoundError:
        return
    with f:
        for raw in f:
            parts = raw.split()
            if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit() and int(parts[0]) >= start:
                yield int(parts[0]), int(parts[1])
