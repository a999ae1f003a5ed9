"""Reads a file as an image's merged filesystem shows it, straight from its layer snapshots.

Layers are searched top-down; a whiteout (0/0 character device) or an opaque directory
on the way hides what lower layers have. Used for /etc/passwd and /etc/group lookups
without mounting anything.
"""

from __future__ import annotations

import os
import stat


def _hidden(layer: str, parts: list[str]) -> bool:
    """Whether this layer hides `parts` in the layers below it."""
    path = layer
    for i, part in enumerate(parts):
        path = os.path.join(path, part)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return True
        if stat.S_ISDIR(st.st_mode) and i < len(parts) - 1:
            try:
                if os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y":
                    # an opaque dir hides lower content unless this layer has the file itself
                    return not os.path.lexists(os.path.join(layer, *parts))
            except OSError:
                pass
    return False


def read_file(layers_top_first: list[str], path: str, limit: int = 4 << 20) -> bytes | None:
    """Content of `path` (absolute, no symlink following), or None if the image lacks it."""
    parts = [p for p in path.split("/") if p]
    for layer in layers_top_first:
        full = os.path.join(layer, *parts)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            if _hidden(layer, parts):
                return None
            continue
        if stat.S_ISREG(st.st_mode):
            with open(full, "rb") as f:
                return f.read(limit)
        return None
    return None
