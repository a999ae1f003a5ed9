"""`-o type=tar`: the image's merged filesystem as one plain tar stream (not an image).

The tree is only read (through MergedView, each file opened without following its last
component) and written as data into one stream: a link or a device in the image is a tar
entry, never something followed or made on the host. Names are relative (`etc/passwd`,
directories with a trailing slash), in sorted order, with the snapshot's numeric owners,
modes and mtimes, so the same image always gives the same bytes. Hard links are written as
separate files; sockets (which a tar cannot hold) are left out.
"""

from __future__ import annotations

import os
import stat
import tarfile
from typing import BinaryIO

from ..context.merged_view import MergedView


def write_fs_tar(view: MergedView, f: BinaryIO) -> int:
    """Write the view as a tar to f; returns how many entries were written."""
    tar = tarfile.open(fileobj=f, mode="w|", format=tarfile.PAX_FORMAT)
    count = 0
    stack = [iter(view.listdir(""))]
    prefixes = [""]
    try:
        while stack:  # depth-first, names sorted, a directory before what it holds; no recursion
            name = next(stack[-1], None)
            if name is None:
                stack.pop()
                prefixes.pop()
                continue
            rel = prefixes[-1] + name
            st = view.lstat(rel)
            if st is None:
                continue
            count += _add(view, tar, rel, st)
            if stat.S_ISDIR(st.st_mode):
                stack.append(iter(view.listdir(rel)))
                prefixes.append(rel + "/")
    finally:
        tar.close()
    return count


def _add(view: MergedView, tar: tarfile.TarFile, rel: str, st: os.stat_result) -> int:
    mode = st.st_mode
    info = tarfile.TarInfo(rel)
    info.mode, info.uid, info.gid = stat.S_IMODE(mode), st.st_uid, st.st_gid
    info.mtime = st.st_mtime_ns // 1_000_000_000
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, view.readlink(rel)
    elif stat.S_ISREG(mode):
        fd = view.open_file(rel)
        with os.fdopen(fd, "rb") as src:
            info.size = os.fstat(fd).st_size
            tar.addfile(info, src)
        return 1
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return 0  # a socket
    tar.addfile(info)
    return 1
