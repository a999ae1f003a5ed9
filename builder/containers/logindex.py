"""When each line of a detached container's log was written, for `logs -t` and `--since`.

The container writes its output straight into `<container>/log`; a small indexer process,
forked by the monitor before the container starts, wakes on inotify's IN_MODIFY for that
file and appends `START END NANOSECONDS` to `<container>/log.times` for the bytes written
since it last looked (so the log itself is never delayed, and the index grows by one record
a wake-up, not a line: a container printing empty lines cannot make it outgrow the log).
A line's time is that of the record holding its first byte. The indexer stops once the
monitor has gone, after a last look at the file.
"""

from __future__ import annotations

import ctypes
import os
import select
import time
from pathlib import Path

_IN_MODIFY = 0x2
_IN_CLOEXEC = 0o2000000


def start_indexer(log: Path) -> None:
    """Fork the indexer (call while the process has one thread, before the container
    starts); returns at once in the caller."""
    parent = os.getpid()
    if os.fork():
        return
    code = 0
    try:
        from runtime.fds import close_fds_above_2

        # none of the monitor's fds: its store lease would outlive the container by the
        # indexer's last poll (prune right after `rm` kept the image's snapshots), its pipe
        # to the CLI would stay open
        close_fds_above_2(2)
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
    offset = 0
    while True:
        gone = os.getppid() != parent
        offset = _scan(src, out, offset)
        if gone:
            return
        if ino >= 0:
            ready, _, _ = select.select([ino], [], [], 0.5)
            if ready:
                os.read(ino, 4096)
        else:
            time.sleep(0.1)


def _scan(src: int, out: int, offset: int) -> int:
    """Record the bytes written after `offset` as written now; returns the new end."""
    now = time.time_ns()
    end = os.fstat(src).st_size
    if end > offset:
        os.write(out, f"{offset} {end} {now}\n".encode())
    return max(end, offset)


def read_index(log: Path, start: int):
    """(start, end, nanoseconds since the epoch) of every record that ends after `start`,
    in order, read lazily."""
    try:
        f = open(str(log) + ".times", "rb")  # noqa: SIM115 - closed by the generator
    except FileNotFoundError:
        return
    with f:
        for raw in f:
            parts = raw.split()
            if len(parts) == 3 and all(p.isdigit() for p in parts) and int(parts[1]) > start:
                yield int(parts[0]), int(parts[1]), int(parts[2])
