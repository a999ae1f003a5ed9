"""Reading a detached container's log (`<container>/log`, its stdout and stderr as written):
the offset of its last N lines, found by reading blocks backwards from the end, and a
copy of what follows an offset, following the file while the container runs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import BinaryIO

_BLOCK = 64 * 1024
MAX_LINE = 16 * 1024  # a longer line is given in pieces of this size, as docker's log drivers split one


def tail_offset(f: BinaryIO, lines: int) -> int:
    """Where the last `lines` lines start (a last line without a newline counts as one);
    reads only as many blocks from the end as hold them."""
    end = f.seek(0, os.SEEK_END)
    if lines <= 0:
        return end
    pos, wanted = end, lines
    if end:
        f.seek(end - 1)
        if f.read(1) == b"\n":
            wanted += 1  # the final newline ends the last line; it does not start one
    while pos > 0:
        start = max(0, pos - _BLOCK)
        f.seek(start)
        block = f.read(pos - start)
        i = len(block)
        while True:
            i = block.rfind(b"\n", 0, i)
            if i < 0:
                break
            wanted -= 1
            if wanted == 0:
                return start + i + 1
        pos = start
    return 0


def copy_from(f: BinaryIO, offset: int, out: BinaryIO, running: Callable[[], bool],
              follow: bool, poll: float = 0.1) -> None:
    """Write the log from `offset` to `out`; with `follow`, keep writing what the container
    adds until it has exited (then copy what it wrote last, and stop)."""
    f.seek(offset)
    while True:
        chunk = f.read(_BLOCK)
        if chunk:
            out.write(chunk)
            continue
        out.flush()
        if not follow:
            return
        if not running():
            while chunk := f.read(_BLOCK):
                out.write(chunk)
            out.flush()
            return
        time.sleep(poll)


def lines_from(f: BinaryIO, offset: int, running: Callable[[], bool], follow: bool,
               poll: float = 0.1):
    """(offset, line) of each line from `offset` (a last line without its newline too, once
    nothing more can come), following the file as copy_from does. A line longer than
    MAX_LINE comes in pieces: memory stays bounded whatever the container wrote."""
    f.seek(offset)
    pending = b""
    while True:
        chunk = f.read(_BLOCK)
        if chunk:
            pending += chunk
            *whole, pending = pending.split(b"\n")
            for line in whole:
                yield offset, line + b"\n"
                offset += len(line) + 1
            while len(pending) >= MAX_LINE:  # (a line without end never grows past a piece)
                yield offset, pending[:MAX_LINE]
                offset += MAX_LINE
                pending = pending[MAX_LINE:]
            continue
        if follow and running():
            time.sleep(poll)
            continue
        rest = f.read()
        pending += rest
        *whole, pending = pending.split(b"\n")
        for line in whole:
            yield offset, line + b"\n"
            offset += len(line) + 1
        if pending:
            yield offset, pending
        return
