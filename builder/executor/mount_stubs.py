"""The mount points a RUN step's container needed and its layer must not hold.

A RUN's root is an overlay: mounting /etc/hosts, /proc, a secret's file... on a path the image
lacks makes an empty stub in the upper dir, and making it copies the stub's parent directory up
(with a new mtime). Neither is the step's own change. After the step, a stub that is absent below
and still empty is removed, and so is a parent that was copied up only for it: empty in the upper
dir, not opaque, and below it the same directory with the same mode and owner. So `RUN true` on
an image without /etc/hosts adds an empty layer, as in BuildKit, not a new `etc/`.
"""

from __future__ import annotations

import os
import stat

MOUNTPOINTS = ("/proc", "/dev", "/sys", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/etc")
_OPAQUE = ("trusted.overlay.opaque", "user.overlay.opaque")


def _lstat_below(layer: str, path: str) -> os.stat_result | None:
    """The entry at path in one layer directory, looked up without following any link."""
    current = layer
    st = None
    for part in [p for p in path.split("/") if p]:
        if st is not None and not stat.S_ISDIR(st.st_mode):
            return None
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except OSError:
            return None
    return st


def _topmost_below(lowers: list[str], path: str) -> os.stat_result | None:
    for layer in lowers:  # top first
        st = _lstat_below(layer, path)
        if st is not None:
            return st
    return None


def _opaque(full: str) -> bool:
    for name in _OPAQUE:
        try:
            if os.getxattr(full, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False


def _drop_copied_up_parent(upper: str, lowers: list[str], path: str) -> None:
    """Remove path's directory from the upper dir when it holds nothing of the step's own."""
    full = upper + path
    try:
        st = os.lstat(full)
        if not stat.S_ISDIR(st.st_mode) or os.listdir(full) or _opaque(full):
            return
    except OSError:
        return
    below = _topmost_below(lowers, path)
    if below is None or not stat.S_ISDIR(below.st_mode):
        return
    if (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) != (stat.S_IMODE(below.st_mode), below.st_uid, below.st_gid):
        return  # the step changed its mode or owner: that is its change
    try:
        os.rmdir(full)
    except OSError:
        pass


def drop_unused_mountpoints(upper: str, lowers: list[str], extra: tuple[str, ...] = ()) -> None:
    """Mount points made only for the run (absent below, empty now) are not part of the layer:
    not /proc or /etc/hosts, and never a secret's file; nor the directories copied up to hold them."""
    parents = set()
    for path in tuple(extra) + MOUNTPOINTS:
        full = upper + path
        if not os.path.lexists(full):
            continue
        if _topmost_below(lowers, path) is not None:
            continue
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                if not os.listdir(full):
                    os.rmdir(full)
                    parents.add(os.path.dirname(path))
            elif os.path.getsize(full) == 0:
                os.unlink(full)
                parents.add(os.path.dirname(path))
        except OSError:
            pass
    for parent in sorted(parents, key=len, reverse=True):  # the deepest first
        while parent not in ("/", ""):
            _drop_copied_up_parent(upper, lowers, parent)
            parent = os.path.dirname(parent)
