"""Builds the container's filesystem view, inside its new mount namespace.

The steps run in this order, each one small (bubblewrap's setup_newroot is the model):
make every mount private; mount the root (overlay or bind); mount /proc, /dev (tmpfs),
/dev/pts, /dev/shm, /dev/mqueue and a read-only /sys; the caller's mounts (binds, tmpfs);
the per-container files (/etc/hosts, ...); make all of it nodev and give /dev the allowed
device nodes (runtime.devices); pivot_root into it and
detach the old root; then mask and write-protect runc's lists of /proc and /sys paths.
All mounts live in the container's namespace and vanish with it: nothing is left on the host.
"""

from __future__ import annotations

import errno
import os
import stat

from . import devices, userns
from .copy_up import copy_up
from . import syscalls as sc
from .overlay import mount_overlay
from .securejoin import mountpoint, open_source, resolve_in_root
from .spec import Mount, Spec

_FLAGS = {"ro": sc.MS_RDONLY, "nosuid": sc.MS_NOSUID, "nodev": sc.MS_NODEV, "noexec": sc.MS_NOEXEC,
          "strictatime": sc.MS_STRICTATIME, "noatime": sc.MS_NOATIME, "nodiratime": sc.MS_NODIRATIME,
          "relatime": sc.MS_RELATIME, "sync": sc.MS_SYNCHRONOUS, "dirsync": sc.MS_DIRSYNC}

DEFAULT_MOUNTS = (
    Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
    Mount("/dev", "tmpfs", "tmpfs", ("nosuid", "nodev", "strictatime", "mode=755", "size=65536k")),
    Mount("/dev/pts", "devpts", "devpts", ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")),
    Mount("/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
    Mount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
    Mount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro")),
)


def _split(options: tuple[str, ...]) -> tuple[int, str]:
    flags, data = 0, []
    for opt in options:
        if opt in _FLAGS:
            flags |= _FLAGS[opt]
        elif opt != "rw":
            data.append(opt)
    return flags, ",".join(data)


def _mount_one(root: str, m: Mount) -> None:
    """Mount m at its destination, made and checked inside the root first (never the root
    itself, never through a link out). Nothing runs in the container yet, so the path that
    was checked is the path mounted on."""
    if m.pinned:
        root_dir, rel, dev, ino = m.pinned
        fd = open_source(root_dir, rel, dev, ino)
        try:
            _mount_one(root, _pinned_to(m, os.path.join(root_dir, rel) if rel else root_dir, f"/proc/self/fd/{fd}"))
        finally:
            os.close(fd)
        return
    flags, data = _split(m.options)
    is_dir = os.path.isdir(m.source) if m.type == "bind" else True
    with mountpoint(root, m.destination, is_dir):
        pass
    target = resolve_in_root(root, m.destination)
    if m.type == "bind":
        if m.copy_up:
            copy_up(root, m.destination, m.source)
        sc.mount(m.source, target, None, sc.MS_BIND | sc.MS_REC)
        if flags:
            sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | flags)
        return
    if m.type == "overlay" and data.startswith("lowerdir=") and "," not in data:
        mount_overlay(target, data[len("lowerdir="):].split(":"))  # read-only
        return
    if m.type == "overlay" and data.startswith("lowerdir="):
        opts = dict(o.split("=", 1) for o in data.split(","))
        mount_overlay(target, opts["lowerdir"].split(":"), opts.get("upperdir"), opts.get("workdir"))
        return
    try:
        sc.mount(m.source or m.type, target, m.type, flags, data or None)
    except OSError as err:
        if m.type == "sysfs" and err.errno in (errno.EPERM, errno.EBUSY):
            # sysfs cannot be mounted afresh while sharing the host's network namespace
            sc.mount("/sys", target, None, sc.MS_BIND | sc.MS_REC)
            if "ro" in m.options:
                sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)
            return
        raise


def _pinned_to(m: Mount, path: str, fd_path: str) -> Mount:
    """m with its pinned source (a bind's source, or that overlay lower) named by fd_path."""
    if m.type == "bind":
        return Mount(m.destination, m.type, fd_path, m.options, m.copy_up)
    def lowers(opt: str) -> str:
        if not opt.startswith("lowerdir="):
            return opt
        return "lowerdir=" + ":".join(fd_path if p == path else p for p in opt[len("lowerdir="):].split(":"))
    return Mount(m.destination, m.type, m.source, tuple(lowers(o) for o in m.options), m.copy_up)


def _make_file_mountpoints(root: str, files: tuple[tuple[str, str], ...]) -> None:
    """Made before the caller's mounts, in the container's own root."""
    for dest, _source in files:
        with mountpoint(root, dest, False):
            pass


def _bind_files(root: str, files: tuple[tuple[str, str], ...]) -> None:
    """Bound after the caller's mounts; one that a volume hides (-v DIR:/etc) is skipped
    rather than made inside the user's host directory."""
    for dest, source in files:
        with mountpoint(root, dest, False, create=False) as target:
            if target is not None:
                sc.mount(source, target, None, sc.MS_BIND)


def _mask(paths: tuple[str, ...], readonly: tuple[str, ...]) -> None:
    for path in paths:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
        else:
            sc.mount("/dev/null", path, None, sc.MS_BIND)
    for path in readonly:
        if not os.path.exists(path):
            continue
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        sc.mount(None, path, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)


def setup(spec: Spec) -> None:
    """Assemble and enter the container's root. Runs in the child, in its own mount namespace."""
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    root = spec.root.path
    if spec.root.overlay is not None:
        ov = spec.root.overlay
        mount_overlay(root, ov.lowerdirs, ov.upperdir, ov.workdir)
    else:
        sc.mount(root, root, None, sc.MS_BIND | sc.MS_REC)
    for m in DEFAULT_MOUNTS:
        if m.destination == "/sys" and spec.writable_sysfs:
            m = Mount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev"))
        if m.type == "devpts" and userns.active() is not None and userns.active().single:
            m = Mount(m.destination, m.type, m.source, tuple(o for o in m.options if not o.startswith("gid=")))
        _mount_one(root, m)
    _make_file_mountpoints(root, spec.files)
    for m in spec.mounts:
        _mount_one(root, m)
    _bind_files(root, spec.files)
    # every mount nodev; /dev gets only the allowed nodes (and the spec's devices)
    devices.seal(root, spec.devices, nodev=not spec.dev_nodes_anywhere)
    os.chdir(root)
    sc.pivot_root(".", ".")
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")
    _mask(spec.masked_paths, spec.readonly_paths)
    if spec.root.readonly:
        sc.mount(None, "/", None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | sc.MS_NODEV)
