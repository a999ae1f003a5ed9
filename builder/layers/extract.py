"""Unpacks a layer tar into a snapshot directory, safely, in overlay format.

Nothing is ever written outside the root: names with `..` are refused; absolute names
are read as relative to the root; every parent directory is opened without following
symlinks, so a name that passes through a symlink (made by this layer or planted to
trick us) is refused; hard links must point at an entry inside the root. Symlink
targets are stored as data and never followed. Every write goes through runtime.tree. OCI whiteouts become overlay markers: an
empty `.wh.NAME` becomes a 0/0 character device NAME, `.wh..wh..opq` marks its directory
`trusted.overlay.opaque=y`. As root, owners and device nodes are kept; otherwise they
are skipped (a snapshot made without root is only good for reading).
"""

from __future__ import annotations

import errno
import os
import stat

from runtime import tree, userns
from runtime.tree import Tree, TreeError

from ..errors import CairnError
from .pipeline import ThreadedReader
from .tarreader import Entry, TarFormatError, TarReader
from .tarstream import OPAQUE_MARKER, WHITEOUT_PREFIX

# What a malformed layer makes the kernel answer (a hard link to a directory, a name too
# long, an entry under a non-directory, ...), as opposed to host trouble such as ENOSPC.
_LAYERS_FAULT = frozenset({errno.EPERM, errno.EISDIR, errno.EEXIST, errno.ENOTDIR, errno.ENOTEMPTY, errno.EMLINK,
                           errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL, errno.EXDEV, errno.ERANGE, errno.E2BIG})


class LayerError(CairnError):
    """A layer tar that is corrupt or would write outside its root."""


def _clean(name: str) -> str:
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise LayerError(f"layer entry {name!r} points outside the layer (contains '..')")
        parts.append(part)
    return "/".join(parts)


class _Layer:
    """The layer's tree (runtime.tree), with the fds of the directories opened so far kept by
    path: each is reached from its parent's fd with runtime.tree.child_dir/open_dir, which
    never follow a link, so a name through a link is refused, and each directory is opened once."""

    def __init__(self, root: str):
        self.tree = Tree(root)
        self.fds: dict[str, int] = {"": self.tree.fd}
        self.as_root = os.geteuid() == 0
        # a user namespace makes no device nodes (rootless skips them, as moby's archive code does)
        self.devices = self.as_root and userns.active() is None
        self.is_layer = True  # False: a context tar (no whiteouts, devices or FIFOs)
        self.made: set[str] = set()  # paths this extraction created (the root starts empty)

    def close(self) -> None:
        for path, fd in self.fds.items():
            if path:
                os.close(fd)
        self.fds.clear()
        self.tree.close()

    def dir_fd(self, path: str, create: bool, name: str) -> int:
        """An fd for directory `path` (relative), creating missing parents when asked."""
        fd = self.fds.get(path)
        if fd is not None:
            return fd
        parent, _, base = path.rpartition("/")
        pfd = self.dir_fd(parent, create, name)
        try:
            if create:
                fd, made = tree.child_dir(pfd, base)
                if made:
                    self.made.add(path)
            else:
                fd = tree.open_dir(pfd, base)
        except TreeError:
            raise LayerError(f"layer entry {name!r} passes through a symlink or non-directory {path!r}") from None
        self.fds[path] = fd
        return fd

    def replace(self, path: str, pfd: int, base: str) -> None:
        """Make way for a new entry at `path`: remove what this layer put there before."""
        if path not in self.made:
            return
        prefix = path + "/"
        for key in [k for k in self.fds if k == path or k.startswith(prefix)]:
            os.close(self.fds.pop(key))
        self.made.difference_update([k for k in self.made if k == path or k.startswith(prefix)])
        tree.remove(pfd, base)


def _set_xattrs(target: int | str, member: Entry, as_root: bool) -> None:
    """Set the member's xattrs on an fd, or on a path whose last component is not followed."""
    for key, value in member.pax_headers.items():
        if not key.startswith("SCHILY.xattr."):
            continue
        attr = key[len("SCHILY.xattr."):]
        if attr.startswith(("trusted.", "security.")) and not as_root:
            continue
        try:
            raw = value.encode("utf-8", "surrogateescape")
            if isinstance(target, int):
                os.setxattr(target, attr, raw)
            else:
                os.setxattr(target, attr, raw, follow_symlinks=False)
        except OSError as err:
            if err.errno not in (errno.ENOTSUP, errno.EPERM):
                raise


def _meta_by_fd(fd: int, member: Entry, as_root: bool) -> None:
    if as_root:
        os.fchown(fd, member.uid, member.gid)  # before chmod: chown clears set-id bits
    os.fchmod(fd, member.mode & 0o7777)
    _set_xattrs(fd, member, as_root)


def extract_tar(stream, root: str, layer: bool = True) -> None:
    """Unpack the tar read from `stream` into the empty directory `root`. `layer=False` is for
    a tar that is not a layer (a build context): `.wh.` names stay plain files, and no device
    node or FIFO is made."""
    r = _Layer(root)
    r.is_layer = layer
    dir_times: list[tuple[str, int]] = []
    try:
        ahead = ThreadedReader(stream)
        reader = TarReader(ahead)
        try:
            for member in reader:
                try:
                    _extract_one(reader, member, r, dir_times)
                except OSError as err:
                    if err.errno not in _LAYERS_FAULT:
                        raise  # the host's trouble (disk full, I/O): reported as it is
                    raise LayerError(f"cannot extract {member.name!r}: {err.strerror}") from None
        except TarFormatError as err:
            raise LayerError(f"corrupt or truncated layer tar: {err}") from None
        finally:
            ahead.close()
        for path, mtime in reversed(dir_times):
            parent, _, base = path.rpartition("/")
            try:
                pfd = r.dir_fd(parent, False, path)
                os.utime(base, (mtime, mtime), dir_fd=pfd, follow_symlinks=False)
            except (FileNotFoundError, LayerError):
                pass
    finally:
        r.close()


def _extract_one(reader: TarReader, member: Entry, r: _Layer, dir_times: list) -> None:
    path = _clean(member.name)
    if not path:
        return  # the root directory itself ("./")
    parent, _, base = path.rpartition("/")
    pfd = r.dir_fd(parent, True, member.name)

    if not r.is_layer and (member.ischr() or member.isblk() or member.isfifo()):
        return
    if base == OPAQUE_MARKER and r.is_layer:
        if r.as_root:
            os.setxattr(pfd, userns.opaque_xattr(), b"y")
        return
    if base.startswith(WHITEOUT_PREFIX) and r.is_layer:
        hidden = base[len(WHITEOUT_PREFIX):]
        if not hidden or hidden in (".", ".."):
            raise LayerError(f"bad whiteout entry {member.name!r}")
        hidden_path = f"{parent}/{hidden}" if parent else hidden
        r.replace(hidden_path, pfd, hidden)
        if r.as_root:
            tree.mknod(pfd, hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0))
            r.made.add(hidden_path)
        return

    if member.isdir():
        if path in r.made and path not in r.fds:
            r.replace(path, pfd, base)  # a non-directory made earlier by this layer
        fd = r.fds.get(path)
        if fd is None:
            try:
                fd, _ = tree.child_dir(pfd, base, 0o700)
            except TreeError:
                raise LayerError(f"layer entry {member.name!r} replaces a non-directory it cannot") from None
            r.fds[path] = fd
            r.made.add(path)
        _meta_by_fd(fd, member, r.as_root)
        dir_times.append((path, member.mtime))
        return

    r.replace(path, pfd, base)
    r.made.add(path)
    if member.isreg():
        fd = tree.new_file(pfd, base, 0o600)
        try:
            for chunk in reader.data(member):
                tree.write_all(fd, chunk)
            _meta_by_fd(fd, member, r.as_root)
            os.utime(fd, (member.mtime, member.mtime))
        finally:
            os.close(fd)
        return
    if member.issym():
        tree.symlink(pfd, base, member.linkname)
        tree.set_meta(pfd, base, owner=(member.uid, member.gid) if r.as_root else None,
                      mtime_ns=member.mtime * 1_000_000_000)
        return
    if member.islnk():
        target = _clean(member.linkname)
        if not target:
            raise LayerError(f"hard link {member.name!r} points at the layer root")
        tparent, _, tbase = target.rpartition("/")
        try:
            tfd = r.dir_fd(tparent, False, member.name)
            tree.hardlink(tfd, tbase, pfd, base)
        except FileNotFoundError:
            raise LayerError(f"hard link {member.name!r} points at {member.linkname!r}, which is not in the layer") from None
        return
    if member.ischr() or member.isblk() or member.isfifo():
        if member.isfifo():
            tree.mknod(pfd, base, stat.S_IFIFO | 0o600)
        elif r.devices:
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            tree.mknod(pfd, base, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        else:
            return  # device nodes need root
        tree.set_meta(pfd, base, owner=(member.uid, member.gid) if r.as_root else None, mode=member.mode & 0o7777,
                      mtime_ns=member.mtime * 1_000_000_000)
        _set_xattrs(f"/proc/self/fd/{pfd}/{base}", member, r.as_root)
        return
    raise LayerError(f"unsupported tar entry type {member.type!r} for {member.name!r}")
