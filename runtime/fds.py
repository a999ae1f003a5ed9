"""The last steps before exec that keep the host out of reach (CVE-2024-21626's lesson):
close every inherited fd above 2, then enter the working directory, resolved inside the
container's root with no magic links (/proc/self/fd/N, /proc/1/cwd), and check that the
kernel agrees the result is reachable from that root."""

from __future__ import annotations

import ctypes
import errno
import os

_libc = ctypes.CDLL(None, use_errno=True)
_SYS_CLOSE_RANGE = 436  # the same number on x86_64 and aarch64 (asm-generic)
_SYS_OPENAT2 = 437
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _close_range(first: int, last: int) -> None:
    if first > last:
        return
    if _libc.syscall(ctypes.c_long(_SYS_CLOSE_RANGE), ctypes.c_uint(first), ctypes.c_uint(last),
                     ctypes.c_uint(0)) == 0:
        return
    # an old kernel: close what /proc says is open
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if first <= fd <= last:
            try:
                os.close(fd)
            except OSError:
                pass


def close_fds_above_2(keep: int, *more: int) -> None:
    """Close every fd above 2 except `keep` (the setup error pipe, close-on-exec) and `more`."""
    last = 2
    for fd in sorted({keep, *more}):
        _close_range(last + 1, fd - 1)
        last = fd
    _close_range(last + 1, 0xFFFFFFFF)


def close_inherited_fds() -> None:
    """Close every fd above 2 that is inheritable: what the caller handed this process (a CI
    runner's lock, a pipe a shell waits on), never its own (Python opens fds close-on-exec).
    A daemon that outlives its caller must not keep those open."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2:
            continue
        try:
            if os.get_inheritable(fd):
                os.close(fd)
        except OSError:
            pass  # (the directory listing's own fd, gone by now)


def _open_dir_in_root(path: str) -> int:
    how = _OpenHow(os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, 0, _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = _libc.syscall(ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(root), os.fsencode(path),
                           ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
        if fd < 0:
            err = ctypes.get_errno()
            if err == errno.ENOSYS:  # no openat2: the fds are closed, so a plain open is bounded
                return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            raise OSError(err, os.strerror(err), path)
        return fd
    finally:
        os.close(root)


def enter_workdir(path: str) -> None:
    """chdir to `path` inside the current root (already pivoted), creating it if missing."""
    try:
        fd = _open_dir_in_root(path)
    except FileNotFoundError:
        os.makedirs(path, exist_ok=True)
        fd = _open_dir_in_root(path)
    try:
        os.fchdir(fd)
    finally:
        os.close(fd)
    try:
        here = os.getcwd()
    except FileNotFoundError:
        here = "(unreachable)"
    if not here.startswith("/"):
        raise OSError(errno.EXDEV, "the directory is outside the container's root", path)
