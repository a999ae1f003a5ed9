"""Unpacks a layer tar into a snapshot directory, safely, in overlay format.

Nothing is ever written outside the root: names with `..` are refused; absolute names
are read as relative to the root; every parent directory is opened without following
symlinks, so a name that passes through a symlink (made by this layer or planted to
trick us) is refused; hard links must point at an entry inside the root. Symlink
targets are stored as data and never followed. OCI whiteouts become overlay markers: an
empty `.wh.NAME` becomes a 0/0 character device NAME, `.wh..wh..opq` marks its directory
`trusted.overlay.opaque=y`. As root, owners and device nodes are kept; otherwise they
are skipped (a snapshot made without root is only good for reading).
"""

from __future__ import annotations

import errno
import os
import stat

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


class _Root:
    """Directory fds under the root, opened component by component without following links."""

    def __init__(self, root: str):
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        self.fds: dict[str, int] = {"": self.root_fd}
        self.as_root = os.geteuid() == 0
        self.made: set[str] = set()  # paths this extraction created (the root starts empty)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def dir_fd(self, path: str, create: bool, name: str) -> int:
        """An fd for directory `path` (relative), creating missing parents when asked."""
        fd = self.fds.get(path)
        if fd is not None:
            return fd
        parent, _, base = path.rpartition("/")
        pfd = self.dir_fd(parent, create, name)
        try:
            fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=pfd)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(base, 0o755, dir_fd=pfd)
            self.made.add(path)
            fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=pfd)
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.ENOTDIR):
                raise LayerError(f"layer entry {name!r} passes through a symlink or non-directory {path!r}") from None
            raise
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
        _remove(pfd, base)


def _remove(dir_fd: int, name: str) -> None:
    """Remove an existing entry (file, link or whole directory) so a new one can take its place."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
        try:
            for child in os.listdir(fd):
                _remove(fd, child)
        finally:
            os.close(fd)
        os.rmdir(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


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


def _meta_by_name(pfd: int, base: str, member: Entry, as_root: bool) -> None:
    if as_root:
        os.chown(base, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)
    os.chmod(base, member.mode & 0o7777, dir_fd=pfd)
    _set_xattrs(f"/proc/self/fd/{pfd}/{base}", member, as_root)


def extract_tar(stream, root: str) -> None:
    """Unpack the tar read from `stream` into the empty directory `root`."""
    r = _Root(root)
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


def _extract_one(reader: TarReader, member: Entry, r: _Root, dir_times: list) -> None:
    path = _clean(member.name)
    if not path:
        return  # the root directory itself ("./")
    parent, _, base = path.rpartition("/")
    pfd = r.dir_fd(parent, True, member.name)

    if base == OPAQUE_MARKER:
        if r.as_root:
            os.setxattr(pfd, "trusted.overlay.opaque", b"y")
        return
    if base.startswith(WHITEOUT_PREFIX):
        hidden = base[len(WHITEOUT_PREFIX):]
        if not hidden or hidden in (".", ".."):
            raise LayerError(f"bad whiteout entry {member.name!r}")
        hidden_path = f"{parent}/{hidden}" if parent else hidden
        r.replace(hidden_path, pfd, hidden)
        if r.as_root:
            os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
            r.made.add(hidden_path)
        return

    if member.isdir():
        if path in r.made and path not in r.fds:
            r.replace(path, pfd, base)  # a non-directory made earlier by this layer
        if path not in r.made:
            os.mkdir(base, 0o700, dir_fd=pfd)
            r.made.add(path)
        fd = r.dir_fd(path, False, member.name)
        _meta_by_fd(fd, member, r.as_root)
        dir_times.append((path, member.mtime))
        return

    r.replace(path, pfd, base)
    r.made.add(path)
    if member.isreg():
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=pfd)
        try:
            for chunk in reader.data(member):
                while chunk:
                    written = os.write(fd, chunk)
                    chunk = chunk[written:]
            _meta_by_fd(fd, member, r.as_root)
            os.utime(fd, (member.mtime, member.mtime))
        finally:
            os.close(fd)
        return
    if member.issym():
        os.symlink(member.linkname, base, dir_fd=pfd)
        if r.as_root:
            os.chown(base, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)
        os.utime(base, (member.mtime, member.mtime), dir_fd=pfd, follow_symlinks=False)
        return
    if member.islnk():
        target = _clean(member.linkname)
        if not target:
            raise LayerError(f"hard link {member.name!r} points at the layer root")
        tparent, _, tbase = target.rpartition("/")
        try:
            tfd = r.dir_fd(tparent, False, member.name)
            os.link(tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            raise LayerError(f"hard link {member.name!r} points at {member.linkname!r}, which is not in the layer") from None
        return
    if member.ischr() or member.isblk() or member.isfifo():
        if member.isfifo():
            os.mkfifo(base, 0o600, dir_fd=pfd)
        elif r.as_root:
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(base, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=pfd)
        else:
            return  # device nodes need root
        _meta_by_name(pfd, base, member, r.as_root)
        os.utime(base, (member.mtime, member.mtime), dir_fd=pfd, follow_symlinks=False)
        return
    raise LayerError(f"unsupported tar entry type {member.type!r} for {member.name!r}")
