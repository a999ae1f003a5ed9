"""Builds small tar archives in memory for tests, including malicious ones."""

from __future__ import annotations

import io
import tarfile


def make_tar(entries) -> bytes:
    """entries: (name, kind, extra) with kind file|dir|symlink|hardlink|chr|fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_000_000
            data = None
            if kind == "file":
                data = extra if isinstance(extra, bytes) else (extra or "").encode()
                info.size, info.mode = len(data), 0o644
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, extra
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, extra
            elif kind == "chr":
                info.type, (info.devmajor, info.devminor) = tarfile.CHRTYPE, extra
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()
