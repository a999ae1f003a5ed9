"""Resolves a path inside a root directory the way the container will see it.

Symlinks in the image are followed as if the root were `/`, so a symlinked mount
destination (`/etc/hosts -> /tmp/x`, `/proc -> ../../..`) can never point outside it.
"""

from __future__ import annotations

import errno
import os
import posixpath

_MAX_LINKS = 255


def secure_join(root: str, path: str) -> str:
    """The host path for container path `path` under `root`, symlinks resolved within root."""
    root = os.path.abspath(root)
    todo = [p for p in path.split("/") if p]
    resolved: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        import stat

        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > _MAX_LINKS:
                raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            todo = [p for p in target.split("/") if p] + todo
            continue
        resolved.append(part)
    return os.path.join(root, *resolved) if resolved else root


def make_mountpoint(root: str, path: str, is_dir: bool) -> str:
    """Create the mount destination (a directory or an empty file) safely; returns its host path."""
    target = secure_join(root, path)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    if not os.path.lexists(target):
        if is_dir:
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o644))
    # makedirs may have walked an intermediate symlink created by a race; check again.
    if os.path.realpath(target) != secure_join(root, path) and not posixpath.commonpath(
            [os.path.realpath(target), os.path.abspath(root)]) == os.path.abspath(root):
        raise OSError(errno.EXDEV, "mount destination escapes the root", path)
    return target
