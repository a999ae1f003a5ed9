"""Fills an empty volume with what the image has at the volume's mount point, as docker
does on a volume's first use. Runs in the container's mount namespace, after its root is
assembled and before the volume is mounted over the mount point.

The source is untrusted (an image's content): the mount point is resolved inside the root
(runtime.tree: links followed as the container would see them, never out of it), each entry
below it is opened with O_NOFOLLOW from its directory's fd, and a link is copied as a link,
never followed. The destination is written through runtime.tree's helpers only, which never
follow a link either. Device nodes and sockets are not copied.
"""

from __future__ import annotations

import os
import stat

from . import tree
from .tree import Tree, TreeError

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _meta(dir_fd: int, name: str, st: os.stat_result) -> None:
    mode = None if stat.S_ISLNK(st.st_mode) else stat.S_IMODE(st.st_mode)
    tree.set_meta(dir_fd, name, owner=(st.st_uid, st.st_gid), mode=mode, mtime_ns=st.st_mtime_ns)


def _copy_entries(src_fd: int, dst_fd: int) -> None:
    """Everything below src_fd into dst_fd; a directory's mode and mtime are set after its content.
    An explicit stack of the directories being copied (in the order a recursion would take): an
    image directory some thousands of levels deep is no RecursionError."""
    # (frames: source fd, destination fd, names left, (parent's destination fd, name, lstat)
    # to set once the directory is copied; None for the top, whose fds are the caller's)
    todo = [(src_fd, dst_fd, iter(sorted(os.listdir(src_fd))), None)]
    try:
        while todo:
            src, dst, names, done = todo[-1]
            name = next(names, None)
            if name is None:
                todo.pop()
                if done is not None:
                    os.close(src)
                    os.close(dst)
                    _meta(*done)
                continue
            st = os.stat(name, dir_fd=src, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                child_src = os.open(name, _DIR, dir_fd=src)
                try:
                    child_dst, _ = tree.child_dir(dst, name, 0o700)
                except BaseException:
                    os.close(child_src)
                    raise
                try:
                    child_names = iter(sorted(os.listdir(child_src)))
                except BaseException:
                    os.close(child_src)
                    os.close(child_dst)
                    raise
                todo.append((child_src, child_dst, child_names, (dst, name, st)))
                continue
            if stat.S_ISREG(st.st_mode):
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=src)
                try:
                    if not stat.S_ISREG(os.fstat(fd).st_mode):
                        continue
                    tree.copy_file(fd, dst, name)
                finally:
                    os.close(fd)
            elif stat.S_ISLNK(st.st_mode):
                tree.symlink(dst, name, os.readlink(name, dir_fd=src))
            elif stat.S_ISFIFO(st.st_mode):
                tree.mknod(dst, name, stat.S_IFIFO | 0o600)
            else:
                continue  # device nodes, sockets
            _meta(dst, name, st)
    finally:
        for src, dst, _, done in todo:
            if done is not None:
                os.close(src)
                os.close(dst)


def copy_up(root: str, destination: str, volume_dir: str) -> None:
    """Copy the content at container path `destination` (inside root) into `volume_dir`
    when that is empty; the volume's root takes the directory's owner and mode."""
    dst_fd = os.open(volume_dir, _DIR)
    try:
        if os.listdir(dst_fd):
            return
        with Tree(root) as t:
            try:
                src_fd, _ = t.resolve(destination)
            except TreeError:
                return  # nothing there (or not a directory): an empty volume
        try:
            st = os.fstat(src_fd)
            _copy_entries(src_fd, dst_fd)
            os.fchown(dst_fd, st.st_uid, st.st_gid)
            os.fchmod(dst_fd, stat.S_IMODE(st.st_mode))
        finally:
            os.close(src_fd)
    finally:
        os.close(dst_fd)
