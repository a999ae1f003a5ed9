"""Which devices a container may open: docker's default allow-list, enforced twice.

1. Every mount of the container is `nodev`, /dev's own tmpfs included; the few nodes it
   may use are bind-mounted one by one from a private staging tmpfs, and /dev/pts keeps
   its ptys. A node made with mknod, or shipped in an image layer, cannot be opened.
2. The cgroup: on v1 the devices controller's lists (`set_v1_rules`); on v2 an eBPF
   program (runtime.device_bpf). mknod stays allowed, as in docker: RUN steps may make
   nodes that end up in a layer, they just cannot open them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from pathlib import Path

from . import syscalls as sc
from .securejoin import resolve_in_root

# (type, major, minor or None for any, access): docker's defaults (runc's AllowedDevices)
ALLOWED = (
    ("c", None, None, "m"), ("b", None, None, "m"),  # mknod of anything, opening none of it
    ("c", 1, 3, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 7, "rwm"),  # null, zero, full
    ("c", 1, 8, "rwm"), ("c", 1, 9, "rwm"),  # random, urandom
    ("c", 5, 0, "rwm"), ("c", 5, 1, "rwm"), ("c", 5, 2, "rwm"),  # tty, console, ptmx
    ("c", 136, None, "rwm"),  # the ptys of /dev/pts
)

NODES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
         ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"))


def v1_rules(rules=ALLOWED) -> list[str]:
    """The lines for devices.allow, after "a" is written to devices.deny."""
    def star(n: int | None) -> str:
        return "*" if n is None else str(n)

    return [f"{kind} {star(major)}:{star(minor)} {access}" for kind, major, minor, access in rules]


def set_v1_rules(path: Path, rules=ALLOWED) -> None:
    """Deny every device, then allow the list, in a v1 devices cgroup with no process yet."""
    (path / "devices.deny").write_text("a")
    for rule in v1_rules(rules):
        (path / "devices.allow").write_text(rule)


_SYS_MOUNT_SETATTR = 442  # asm-generic and x86_64 alike
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_NODEV = 0x4
_libc = ctypes.CDLL(None, use_errno=True)


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _mount_setattr(path: str, set_: int, clear: int, recursive: bool) -> bool:
    attr = _MountAttr(set_, clear, 0, 0)
    flags = _AT_RECURSIVE if recursive else 0
    res = _libc.syscall(ctypes.c_long(_SYS_MOUNT_SETATTR), ctypes.c_int(_AT_FDCWD), os.fsencode(path),
                        ctypes.c_uint(flags), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
    if res == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.ENOSYS:
        return False
    raise OSError(err, f"mount_setattr {path}: {os.strerror(err)}", path)


_STATVFS_TO_MS = ((os.ST_RDONLY, sc.MS_RDONLY), (os.ST_NOSUID, sc.MS_NOSUID), (os.ST_NOEXEC, sc.MS_NOEXEC))


def _remount_nodev(path: str) -> None:
    """The old kernels' way: a bind remount that keeps ro/nosuid/noexec and adds nodev."""
    st = os.statvfs(path)
    flags = sum(ms for st_flag, ms in _STATVFS_TO_MS if st.f_flag & st_flag)
    sc.mount(None, path, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_NODEV | flags)


def _mounts_under(root: str) -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == root or point.startswith(root.rstrip("/") + "/"):
                out.append(point)
    return out


def seal(root: str, extra=(), nodev: bool = True) -> None:
    """Make every mount at and under root nodev (unless told not to), then give /dev the
    allowed nodes and the spec's `extra` devices (runtime.spec.Device). Runs in the
    container's mount namespace, after every mount and before pivot_root."""
    if nodev and not _mount_setattr(root, _MOUNT_ATTR_NODEV, 0, recursive=True):
        for point in _mounts_under(root):
            _remount_nodev(point)
    dev = resolve_in_root(root, "/dev")
    pts = os.path.join(dev, "pts")
    if os.path.ismount(pts) and not _mount_setattr(pts, 0, _MOUNT_ATTR_NODEV, recursive=False):
        st = os.statvfs(pts)
        flags = sum(ms for st_flag, ms in _STATVFS_TO_MS if st.f_flag & st_flag)
        sc.mount(None, pts, None, sc.MS_REMOUNT | sc.MS_BIND | flags)
    _populate(dev, tuple((name, "c", major, minor) for name, major, minor in NODES)
              + tuple((d.path, d.kind, d.major, d.minor) for d in extra))


def _host_node(name: str, kind: str, major: int, minor: int) -> str:
    """The host's /dev/NAME, if it is the node asked for (rootless mode binds it)."""
    path = os.path.join("/dev", name)
    st = os.stat(path)
    want = stat.S_IFBLK if kind == "b" else stat.S_IFCHR
    if stat.S_IFMT(st.st_mode) != want or st.st_rdev != os.makedev(major, minor):
        raise OSError(errno.EPERM, f"cannot make the device node /dev/{name} in a user namespace", path)
    return path


def _populate(dev: str, nodes) -> None:
    staging = os.path.join(dev, ".cairn-nodes")
    os.mkdir(staging, 0o700)
    sc.mount("tmpfs", staging, "tmpfs", sc.MS_NOSUID | sc.MS_NOEXEC, "mode=700,size=16k")
    try:
        for i, (name, kind, major, minor) in enumerate(nodes):
            node = os.path.join(staging, str(i))
            try:
                os.mknod(node, (stat.S_IFBLK if kind == "b" else stat.S_IFCHR) | 0o666, os.makedev(major, minor))
                os.chmod(node, 0o666)
            except PermissionError:  # rootless: a user namespace makes no nodes; bind the host's own
                node = _host_node(name, kind, major, minor)
            target = os.path.join(dev, name)
            if "/" in name:  # /dev/net/tun: its directory on /dev's own tmpfs
                os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o666))
            sc.mount(node, target, None, sc.MS_BIND)
    finally:
        sc.umount2(staging, sc.MNT_DETACH)  # the binds keep their nodes alive
        os.rmdir(staging)
    for name, target in LINKS:
        path = os.path.join(dev, name)
        if not os.path.lexists(path):
            os.symlink(target, path)
