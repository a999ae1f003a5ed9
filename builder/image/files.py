"""Reads a file as an image's merged filesystem shows it, straight from its layer snapshots
(top layer first; whiteouts and opaque directories honoured), without mounting anything.
Used for /etc/passwd and /etc/group lookups."""

from __future__ import annotations

import stat

from .merged_view import MergedView


def read_file(layers_top_first: list[str], path: str, limit: int = 4 << 20) -> bytes | None:
    """Content of `path` (absolute, no symlink following), or None if the image lacks it."""
    view = MergedView(layers_top_first, "the image")
    st = view.lstat(path.lstrip("/"))
    if st is None or not stat.S_ISREG(st.st_mode):
        return None
    with open(view.host_path(path.lstrip("/")), "rb") as f:
        return f.read(limit)
