"""Writing a file so that readers see the old content or the new, never a part: a temp file
beside the destination, filled, flushed (and fsynced), then renamed over it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(dest, fill, *, text: bool = False, mode_bits: int | None = None, fsync: bool = True) -> None:
    """`fill(f)` writes the content to an open file; it replaces `dest` only when complete."""
    dest_path = Path(dest)
    directory = dest_path.parent if str(dest_path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{dest_path.name}.")
    try:
        with os.fdopen(fd, "w" if text else "wb", **({} if text else {"buffering": 1 << 20})) as f:
            fill(f)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        if mode_bits is not None:
            os.chmod(tmp, mode_bits)
        os.replace(tmp, dest_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_output(path: str, data: bytes, mode_bits: int = 0o644) -> None:
    """A file a command writes for its user (--iidfile): replaced whole (write_atomically), but
    /dev/null, a FIFO (the name itself, never a link to one: O_NOFOLLOW), /dev/stdout, /dev/stderr
    and /dev/fd/N are written into, as docker writes them: a rename over them replaced the
    machine's /dev/null with a regular file."""
    import re
    import stat

    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = 0
    stream = re.fullmatch(r"/dev/std(out|err)|/dev/fd/\d+|/proc/self/fd/\d+", os.path.normpath(path))
    if stream or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | (os.O_APPEND if stream else os.O_NOFOLLOW))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return
    write_atomically(path, lambda f: f.write(data), mode_bits=mode_bits)
