"""One part of a walk done by a forked child, beside the parent's own part: the stat calls of a
large context cost the kernel time that two cores can share. Threads cannot share it here: every
lstat releases and retakes the GIL, and two threads handing it over at each entry were measured
1.5-1.8x slower than one (see fingerprint.SPLIT_AFTER).

The child runs `fn(*args)` and writes its marshal'ed result to an anonymous memory file, then a
header (magic, length) at its start, and exits (os._exit: no atexit handler, no buffer flushed,
nothing of the parent's run twice). The parent waits for that exit and reads the file: no pipe
whose end another fork could hold open, no read that can block. A child that failed, was killed
or could not be made gives `None` (the caller then does the part itself), so that the result
never depends on the child but for its speed.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import struct

_HEAD = struct.Struct("<8sQ")
_MAGIC = b"cairnwlk"


class Part:
    """A forked child's part, from start() until result() or abandon()."""

    def __init__(self, pid: int, fd: int):
        self.pid, self.fd = pid, fd

    def result(self):
        """What the child's fn returned, or None when it failed (or was made to fail)."""
        try:
            self._reap()
            head = os.pread(self.fd, _HEAD.size, 0)
            if len(head) != _HEAD.size:
                return None
            magic, size = _HEAD.unpack(head)
            if magic != _MAGIC or size != os.fstat(self.fd).st_size - _HEAD.size:
                return None
            data = os.pread(self.fd, size, _HEAD.size)
            if len(data) != size:
                return None
            return marshal.loads(data)
        except (OSError, ValueError, EOFError, TypeError):
            return None
        finally:
            self._close()

    def abandon(self) -> None:
        """Stop the child (the parent's own part failed, or was interrupted) and reap it."""
        if self.pid > 0:  # (0 once reaped: never a kill of the process group)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self._reap()
        self._close()

    def _reap(self) -> None:
        if self.pid:
            pid, self.pid = self.pid, 0
            while True:
                try:
                    os.waitpid(pid, 0)
                    return
                except InterruptedError:
                    continue
                except ChildProcessError:  # (reaped by the system: SIGCHLD ignored; the header tells)
                    return

    def _close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def spare_cpu() -> bool:
    """Whether another CPU is idle now: this process may run on two or more, and the kernel's
    count of runnable tasks at this instant (/proc/loadavg, system-wide) is below their number,
    counting this one. (Measured on 2 cores: a 20,000-entry walk split in two was 25% faster
    with the other core idle, and 20% slower with it busy.)"""
    cpus = len(os.sched_getaffinity(0))
    if cpus < 2:
        return False
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return True
    return running < cpus


def start(fn, *args) -> Part | None:
    """Run fn(*args) in a forked child; None when no child can be made, or no CPU is idle
    (spare_cpu: the child would only take turns with us, and its fork and marshal cost)."""
    if not spare_cpu():
        return None
    try:
        fd = os.memfd_create("cairn-walk", os.MFD_CLOEXEC)
    except (OSError, AttributeError):
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(fd)
        return None
    if pid == 0:  # the child: never returns into the caller's code
        code = 1
        try:
            data = marshal.dumps(fn(*args))
            view, at = memoryview(data), _HEAD.size
            while view:
                n = os.pwrite(fd, view, at)
                view, at = view[n:], at + n
            os.pwrite(fd, _HEAD.pack(_MAGIC, len(data)), 0)
            code = 0
        except BaseException:  # noqa: BLE001 - the parent does the part itself
            code = 1
        finally:
            os._exit(code)
    return Part(pid, fd)
