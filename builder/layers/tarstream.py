"""Writes a snapshot directory as a deterministic layer tar (the blob's uncompressed form).

Determinism is what lets a snapshot stand in for its blob: the same tree always gives
byte-identical tar output, so the same diff_id. Entries are written depth-first in
byte order of names; owners are numeric (no user/group names); mtimes are whole seconds,
clamped to SOURCE_DATE_EPOCH when set; xattrs, hard links, symlinks, devices and fifos are
kept. Overlay markers become OCI whiteouts: a 0/0 character device NAME is written as an
empty `.wh.NAME`, and a directory marked `trusted.overlay.opaque=y` gets a `.wh..wh..opq`.
"""

from __future__ import annotations

import os
import stat
import tarfile
from dataclasses import dataclass

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OVERLAY_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")
OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
_CHUNK = 1 << 20
_BLOCK = tarfile.BLOCKSIZE


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


def _xattrs(path: str) -> dict[str, str]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in sorted(names):
        if name.startswith(OVERLAY_XATTR_PREFIXES):
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        out["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return out


def _is_opaque(path: str) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False


class _TarEmitter:
    def __init__(self, out, options: TarOptions):
        self.out = out
        self.options = options
        self.links: dict[tuple[int, int], str] = {}

    def header(self, info: tarfile.TarInfo, pax: dict[str, str] | None = None) -> None:
        if pax:
            info.pax_headers = pax
        self.out.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def entry(self, full: str, name: str, st: os.stat_result) -> None:
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = self.options.mtime(st.st_mtime)
        mode = st.st_mode
        pax = _xattrs(full)
        if stat.S_ISDIR(mode):
            info.type = tarfile.DIRTYPE
            info.name = name + "/"
            self.header(info, pax)
            return
        if stat.S_ISREG(mode) and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = self.links.get(key)
            if first is not None:
                info.type = tarfile.LNKTYPE
                info.linkname = first
                self.header(info, pax)
                return
            self.links[key] = name
        if stat.S_ISREG(mode):
            info.type = tarfile.REGTYPE
            info.size = st.st_size
            self.header(info, pax)
            self._copy(full, st.st_size)
        elif stat.S_ISLNK(mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(full)
            self.header(info, pax)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.header(info, pax)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
            self.header(info, pax)
        # sockets are not carried by layers, as in docker

    def whiteout(self, name: str) -> None:
        info = tarfile.TarInfo(name)
        info.mode = 0
        info.uname = info.gname = ""
        info.mtime = self.options.mtime(self.options.source_date_epoch or 0)
        self.header(info)

    def _copy(self, path: str, size: int) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            left = size
            while left > 0:
                chunk = os.read(fd, min(_CHUNK, left))
                if not chunk:
                    raise OSError(f"{path} shrank while it was being read")
                self.out.write(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
        pad = (-size) % _BLOCK
        if pad:
            self.out.write(b"\0" * pad)

    def end(self) -> None:
        self.out.write(b"\0" * (2 * _BLOCK))


def write_tar(root: str, out, options: TarOptions | None = None) -> None:
    """Write the tree under `root` (a snapshot, possibly an overlay upper dir) to `out`."""
    emitter = _TarEmitter(out, options or TarOptions.from_env())

    def walk(dir_path: str, prefix: str) -> None:
        for name in sorted(os.listdir(dir_path), key=os.fsencode):
            full = os.path.join(dir_path, name)
            rel = prefix + name
            st = os.lstat(full)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                emitter.whiteout(prefix + WHITEOUT_PREFIX + name)
                continue
            emitter.entry(full, rel, st)
            if stat.S_ISDIR(st.st_mode):
                if _is_opaque(full):
                    emitter.whiteout(rel + "/" + OPAQUE_MARKER)
                walk(full, rel + "/")

    walk(root, "")
    emitter.end()
