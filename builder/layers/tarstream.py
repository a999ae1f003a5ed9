"""Writes a snapshot directory as a deterministic layer tar (the blob's uncompressed form).

Determinism is what lets a snapshot stand in for its blob: the same tree always gives
byte-identical tar output, so the same diff_id. Entries are written depth-first in
byte order of names; owners are numeric (no user/group names); mtimes are whole seconds,
clamped to the SOURCE_DATE_EPOCH the caller gives (never read from the environment here:
the store keeps the epoch a snapshot was first written with); xattrs, hard links, symlinks, devices and fifos are
kept. Overlay markers become OCI whiteouts: a 0/0 character device NAME is written as an
empty `.wh.NAME`, and a directory marked `trusted.overlay.opaque=y` gets a `.wh..wh..opq`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from . import tarheader

# The bytes this module writes are part of the store format: a layer kept only as a
# snapshot is trusted to give back the tar its diff_id was computed from. Any change to
# the output must bump TAR_FORMAT (the store records it and refuses to rebuild older
# snapshots' blobs).
TAR_FORMAT = 1

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OVERLAY_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")
OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
_CHUNK = 1 << 20
_BLOCK = tarheader.BLOCK


@dataclass(frozen=True)
class TarOptions:
    source_date_epoch: int | None = None

    @classmethod
    def from_env(cls) -> "TarOptions":
        value = os.environ.get("SOURCE_DATE_EPOCH")
        return cls(int(value) if value and value.isdigit() else None)

    def mtime(self, mtime: float) -> int:
        seconds = int(mtime)
        if self.source_date_epoch is not None and seconds > self.source_date_epoch:
            return self.source_date_epoch
        return max(seconds, 0)


def _xattrs(path: str) -> tuple[dict[str, str], bool]:
    """The entry's xattrs as PAX records (overlay's own left out), and whether it is opaque."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}, False
    if not names:
        return {}, False
    out = {}
    opaque = False
    for name in sorted(names):
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        if name.startswith(OVERLAY_XATTR_PREFIXES):
            opaque = opaque or (name in OPAQUE_XATTRS and value == b"y")
            continue
        out["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return out, opaque


class _TarEmitter:
    """Emits tar bytes into `out`, coalescing small pieces into large writes."""

    def __init__(self, out, options: TarOptions):
        self.out = out
        self.options = options
        self.links: dict[tuple[int, int], str] = {}
        self.pieces: list[bytes] = []
        self.pending = 0

    def put(self, data: bytes) -> None:
        self.pieces.append(data)
        self.pending += len(data)
        if self.pending >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.pieces:
            self.out.write(b"".join(self.pieces))
            self.pieces.clear()
            self.pending = 0

    def entry(self, full: str, name: str, st: os.stat_result) -> bool:
        """Write one entry; returns True for an opaque directory."""
        mode = st.st_mode
        pax, opaque = _xattrs(full)
        common = {"mode": stat.S_IMODE(mode), "uid": st.st_uid, "gid": st.st_gid,
                  "mtime": self.options.mtime(st.st_mtime), "pax": pax}
        if stat.S_ISDIR(mode):
            self.put(tarheader.header(name + "/", typeflag=b"5", **common))
            return opaque
        if stat.S_ISREG(mode) and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = self.links.get(key)
            if first is not None:
                self.put(tarheader.header(name, typeflag=b"1", linkname=first, **common))
                return False
            self.links[key] = name
        if stat.S_ISREG(mode):
            self.put(tarheader.header(name, typeflag=b"0", size=st.st_size, **common))
            self._copy(full, st.st_size)
        elif stat.S_ISLNK(mode):
            self.put(tarheader.header(name, typeflag=b"2", linkname=os.readlink(full), **common))
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            self.put(tarheader.header(name, typeflag=b"3" if stat.S_ISCHR(mode) else b"4",
                                      devmajor=os.major(st.st_rdev), devminor=os.minor(st.st_rdev), **common))
        elif stat.S_ISFIFO(mode):
            self.put(tarheader.header(name, typeflag=b"6", **common))
        # sockets are not carried by layers, as in docker
        return False

    def whiteout(self, name: str) -> None:
        self.put(tarheader.header(name, mode=0, mtime=self.options.mtime(self.options.source_date_epoch or 0)))

    def _copy(self, path: str, size: int) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            left = size
            while left > 0:
                chunk = os.read(fd, min(_CHUNK, left))
                if not chunk:
                    raise OSError(f"{path} shrank while it was being read")
                if len(chunk) >= _CHUNK // 2:
                    self.flush()
                    self.out.write(chunk)
                else:
                    self.put(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
        pad = (-size) % _BLOCK
        if pad:
            self.put(b"\0" * pad)

    def end(self) -> None:
        self.put(b"\0" * (2 * _BLOCK))
        self.flush()


def write_tar(root: str, out, options: TarOptions | None = None) -> None:
    """Write the tree under `root` (a snapshot, possibly an overlay upper dir) to `out`."""
    emitter = _TarEmitter(out, options or TarOptions())
    # (depth first, each directory's names sorted: an explicit stack of the directories being
    # listed, not a recursion, for a tree some thousands of directories deep)
    todo = [(root, "", iter(sorted(os.listdir(root), key=os.fsencode)))]
    while todo:
        dir_path, prefix, names = todo[-1]
        name = next(names, None)
        if name is None:
            todo.pop()
            continue
        full = dir_path + "/" + name
        rel = prefix + name
        st = os.lstat(full)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            emitter.whiteout(prefix + WHITEOUT_PREFIX + name)
            continue
        opaque = emitter.entry(full, rel, st)
        if stat.S_ISDIR(st.st_mode):
            if opaque:
                emitter.whiteout(rel + "/" + OPAQUE_MARKER)
            todo.append((full, rel + "/", iter(sorted(os.listdir(full), key=os.fsencode))))
    emitter.end()


def write_tar_at(dir_fd: int, out, options: TarOptions | None = None) -> None:
    """Write the tree of the directory `dir_fd` to `out`, as write_tar does for a snapshot,
    for a tree that a container may be changing (a cache mount): every directory is opened
    from its parent's fd without following a link, and an entry is read through its
    parent's fd by its last name, never followed; devices, FIFOs and sockets are left out."""
    emitter = _TarEmitter(out, options or TarOptions())

    todo = [(dir_fd, "", iter(sorted(os.listdir(dir_fd), key=os.fsencode)))]  # (as write_tar's)
    try:
        while todo:
            fd, prefix, names = todo[-1]
            name = next(names, None)
            if name is None:
                todo.pop()
                if fd != dir_fd:
                    os.close(fd)
                continue
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                continue
            if stat.S_ISLNK(st.st_mode):  # (entry() reads the target by path: the link's own name here)
                link = os.readlink(name, dir_fd=fd)
                emitter.put(tarheader.header(prefix + name, typeflag=b"2", linkname=link, mode=0o777,
                                             uid=st.st_uid, gid=st.st_gid, mtime=emitter.options.mtime(st.st_mtime)))
                continue
            emitter.entry(f"/proc/self/fd/{fd}/{name}", prefix + name, st)
            if stat.S_ISDIR(st.st_mode):
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                try:
                    names = iter(sorted(os.listdir(child), key=os.fsencode))
                except BaseException:
                    os.close(child)
                    raise
                todo.append((child, prefix + name + "/", names))
    finally:
        for fd, _, _ in todo:
            if fd != dir_fd:
                os.close(fd)
    emitter.end()
