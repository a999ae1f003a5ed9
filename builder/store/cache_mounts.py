"""The store's RUN --mount=type=cache directories (store.layout.cache_mounts): each is named
by a hash of its id (an id is never a path), with a sidecar `NAME.id` holding the id as
written; the sidecar's mtime is when a step last mounted it. `cairn cache du|ls|prune` read
and remove them here; a directory made before the sidecars existed shows its own mtime and an
empty id. A container writes into the directory, never into the sidecar (which is beside it)."""

from __future__ import annotations

import hashlib
import os
import stat

from runtime import tree
from runtime.record import Record, record
from runtime.tree import Tree

_ID_LIMIT = 4096  # bytes of an id kept (an id comes from an untrusted Dockerfile)
_SUFFIX = ".id"


@record
class CacheMount(Record):
    name: str  # the directory's name
    id: str  # the mount's id (or target) as the Dockerfile wrote it; "" when unknown
    size: int
    last_used: float


def dir_name(mount_id: str) -> str:
    """The directory of a cache mount: a hash of its id, so an id is never a path."""
    return hashlib.sha256(mount_id.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def record_use(base: str, name: str, mount_id: str) -> None:
    """Note that a step mounts cache `name` (id `mount_id`) now."""
    path = os.path.join(base, name + _SUFFIX)
    data = mount_id.encode("utf-8", "surrogateescape")[:_ID_LIMIT]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        tree.write_all(fd, data)
    finally:
        os.close(fd)


def _size(path: str) -> int:
    """Bytes below `path` (links not followed); a tree too deep to walk counts what was read."""
    total = 0
    try:
        for _, _, files, dir_fd in os.fwalk(path, follow_symlinks=False):
            for f in files:
                try:
                    total += os.stat(f, dir_fd=dir_fd, follow_symlinks=False).st_blocks * 512
                except OSError:
                    pass
    except (OSError, RecursionError):
        pass
    return total


def _read_id(base: str, name: str) -> tuple[str, float | None]:
    try:
        fd = os.open(os.path.join(base, name + _SUFFIX), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return "", None
    try:
        return os.read(fd, _ID_LIMIT).decode("utf-8", "replace"), os.fstat(fd).st_mtime
    finally:
        os.close(fd)


def last_used(base: str, name: str) -> float:
    """When a step last mounted cache `name` (the directory's mtime without a sidecar)."""
    used = _read_id(base, name)[1]
    if used is None:
        try:
            used = os.lstat(os.path.join(base, name)).st_mtime
        except OSError:
            used = 0.0
    return used


def list_mounts(base: str) -> list[CacheMount]:
    """Every cache mount directory, most recently used first."""
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        path = os.path.join(base, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        mount_id, used = _read_id(base, name)
        out.append(CacheMount(name, mount_id, _size(path), used if used is not None else st.st_mtime))
    return sorted(out, key=lambda m: -m.last_used)


def remove(base: str, names) -> None:
    """Remove these cache mount directories and their sidecars (no link followed)."""
    if not os.path.isdir(base):
        return
    with Tree(base) as t:
        for name in names:
            tree.remove(t.fd, name)
            tree.remove(t.fd, name + _SUFFIX)
