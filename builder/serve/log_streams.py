"""Which bytes of a container's log came from its stderr, so that the API can send docker's
frames with the right stream while `cairn logs` keeps reading one file.

An API container's stdout and stderr are pipes to its monitor, whose copier appends what
each gives to `<container>/log` (one writer, so it knows where each chunk lands) and, for a
stderr chunk, first the line `START END` to `<container>/log.stderr`: a reader that sees
the bytes always finds their record. A reader splits what it reads into (stream, bytes)."""

from __future__ import annotations

import bisect
import os
import select
import threading
from typing import Self

STDOUT, STDERR = 1, 2
_CHUNK = 65536


def start_copier(out_fd: int, err_fd: int, cdir_path) -> threading.Thread:
    """A thread copying the two pipes into the log until both end (the caller then joins)."""
    thread = threading.Thread(target=_copy, args=(out_fd, err_fd, cdir_path), daemon=True,
                              name="cairn-log-copier")
    thread.start()
    return thread


def _copy(out_fd: int, err_fd: int, cdir_path) -> None:
    log = os.open(os.path.join(cdir_path, "log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    marks = os.open(os.path.join(cdir_path, "log.stderr"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    open_fds = [out_fd, err_fd]
    try:
        while open_fds:
            ready, _w, _x = select.select(open_fds, [], [])
            for fd in ready:
                data = os.read(fd, _CHUNK)
                if not data:
                    open_fds.remove(fd)
                    os.close(fd)
                    continue
                if fd == err_fd:
                    start = os.lseek(log, 0, os.SEEK_END)
                    os.write(marks, f"{start} {start + len(data)}\n".encode())
                view = memoryview(data)
                while view:
                    view = view[os.write(log, view):]
    except OSError:
        pass
    finally:
        os.close(log)
        os.close(marks)


def make_marks(cdir_path) -> None:
    """The empty marks file, made with the container: a reader opens it before the start and
    keeps it, so that an AutoRemove container's removal does not take its marks away."""
    os.close(os.open(os.path.join(cdir_path, "log.stderr"), os.O_WRONLY | os.O_CREAT, 0o640))


class Streams:
    """The stderr ranges of a log, read again as the file grows (a log without marks, from
    `cairn run -d`, is all stdout)."""

    def __init__(self, cdir_path):
        try:
            self._file = open(os.path.join(cdir_path, "log.stderr"), "rb")  # noqa: SIM115 - see close()
        except FileNotFoundError:
            self._file = None
        self.starts: list[int] = []
        self.ends: list[int] = []
        self._partial = b""

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _load(self) -> None:
        if self._file is None:
            return
        data = self._file.read()
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            start, _, end = line.partition(b" ")
            if start.isdigit() and end.isdigit():
                self.starts.append(int(start))
                self.ends.append(int(end))

    def pieces(self, offset: int, data: bytes) -> list[tuple[int, bytes]]:
        """data (read from the log at offset) as (stream, bytes) pieces, in order."""
        self._load()
        out: list[tuple[int, bytes]] = []
        pos, end = offset, offset + len(data)
        i = max(0, bisect.bisect_right(self.starts, pos) - 1)
        while pos < end:
            if i < len(self.starts) and self.ends[i] <= pos:
                i += 1
                continue
            if i < len(self.starts) and self.starts[i] <= pos:
                stop, stream = min(end, self.ends[i]), STDERR
            else:
                stop, stream = (min(end, self.starts[i]) if i < len(self.starts) else end), STDOUT
            out.append((stream, data[pos - offset:stop - offset]))
            pos = stop
        return out
