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
