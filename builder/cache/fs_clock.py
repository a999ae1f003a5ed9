"""Whether a file's timestamps can vouch for it sooner than fingerprint.RACY_NS (issue 17).

A stat can vouch for a file only once a rewrite could no longer leave every stat field as it
was (git's "racy clean"). The 2 s of RACY_NS are for filesystems whose times count whole
seconds (ext4 with 128-byte inodes, FAT) or come from another machine's clock (NFS, SMB,
FUSE: a server's clock may lag ours by seconds). On a local filesystem that keeps sub-second
times, a change's ctime is this kernel's clock read when the change was made, which lags
the real clock by at most a tick (1-10 ms; multigrain timestamps, none): a file whose ctime
is FINE_NS before a walk began cannot be rewritten later with that ctime.

A file is taken as being on such a filesystem only when both its mtime and ctime have a
non-zero sub-second part (a whole-second filesystem stores none; FAT's "ctime" may be a
creation time kept at 10 ms while its mtime counts 2 s, hence both) and statfs names a
local filesystem type of this kernel's (LOCAL below); anything else keeps RACY_NS.
"""

from __future__ import annotations

import os

FINE_NS = 50_000_000  # a few kernel ticks (HZ=100: 10 ms a tick)
_GIGA = 1_000_000_000
LOCAL = frozenset((
    0xEF53,  # ext2/3/4 (sub-second times only with 256-byte inodes: told by the times themselves)
    0x01021994,  # tmpfs
    0x858458F6,  # ramfs
    0x58465342,  # xfs
    0x9123683E,  # btrfs
    0xF2F52010,  # f2fs
    0x794C7630,  # overlayfs (its upper directory's times: one of these, local)
    0x2FC12FC1,  # zfs
))
_statfs = None


def fine(entry: tuple, started: int, path: str) -> bool:
    """Whether the entry (path, size, mtime_ns, ctime_ns, inode, mode[, link target]) of the
    file at `path` changed long enough before `started` (time.time_ns() before it was stat-ed)
    for a local sub-second filesystem, and is on one."""
    if entry[3] >= started - FINE_NS:
        return False
    return fine_fs(entry, path)


def fine_fs(entry: tuple, path: str) -> bool:
    """Whether the entry's file is on a local filesystem that keeps sub-second times (told by
    its own mtime and ctime, then statfs), whenever it changed."""
    mtime, ctime = entry[2], entry[3]
    if not mtime % _GIGA or not ctime % _GIGA:
        return False
    if len(entry) == 7:  # (a link: statfs would follow it; it lives in its directory's filesystem)
        path = os.path.dirname(path) or "."
    return fs_type(path) in LOCAL


def fs_type(path: str) -> int | None:
    """statfs(2)'s f_type of the filesystem holding path, None when it cannot be told."""
    global _statfs
    import ctypes

    if _statfs is None:
        libc = ctypes.CDLL(None, use_errno=True)
        _statfs = libc.statfs
        _statfs.argtypes = (ctypes.c_char_p, ctypes.c_void_p)
    buf = ctypes.create_string_buffer(256)  # (struct statfs: 120 bytes on 64-bit Linux)
    if _statfs(os.fsencode(path), buf) != 0:
        return None
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF
