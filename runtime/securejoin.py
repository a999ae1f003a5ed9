"""Mount destinations inside a container's root, made and pinned through runtime.tree.

A destination is resolved inside the root as the container will see it (image symlinks
followed as if the root were `/`, so `/etc/hosts -> /tmp/x` or `/data -> ../../..` can never
point outside). The mount then targets `/proc/self/fd/N` of an O_PATH fd of the made entry,
so nothing can swap a link in between (runc's approach). A destination that resolves to the
root itself is refused: a volume must never replace the container's whole filesystem.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from contextlib import contextmanager

from .tree import MAX_LINKS, Tree, TreeError

_O_PATH = getattr(os, "O_PATH", 0o10000000)


class MountpointError(OSError):
    pass


@contextmanager
def mountpoint(root: str, path: str, is_dir: bool, create: bool = True):
    """Yield a path naming the (made) destination `path` under root, pinned by an fd; None
    when `create` is false and it is missing."""
    with Tree(root) as t:
        target = posixpath.normpath("/" + path)
        for _ in range(MAX_LINKS):
            if target == "/":
                raise MountpointError(errno.EINVAL, f"mount destination {path} resolves to the container's root",
                                      path)
            try:
                dir_fd, where = t.resolve(posixpath.dirname(target), create=create)
            except TreeError as err:
                if not create and err.errno == errno.ENOENT:
                    yield None
                    return
                raise
            name = posixpath.basename(target)
            try:
                link = os.readlink(name, dir_fd=dir_fd)
            except OSError:
                break
            os.close(dir_fd)
            target = posixpath.normpath(link if link.startswith("/") else posixpath.join(where, link))
        else:
            raise MountpointError(errno.ELOOP, f"mount destination {path}: too many levels of symbolic links", path)
        try:
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                if not create:
                    yield None
                    return
                if is_dir:
                    os.mkdir(name, 0o755, dir_fd=dir_fd)
                else:
                    os.close(os.open(name, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                                     dir_fd=dir_fd))
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise MountpointError(errno.ELOOP, f"mount destination {path} is a symbolic link", path)
            fd = os.open(name, _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        try:
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)


def resolve_in_root(root: str, path: str) -> str:
    """The host path of container path `path` under root, links followed inside it."""
    with Tree(root) as t:
        return os.path.join(root, t.realpath(path).lstrip("/"))


SOURCE_CHANGED = "the build context changed while it was read (an entry was replaced); run the build again"


def open_source(root: str, rel: str, dev: int, ino: int) -> int:
    """An O_PATH fd of the mount source `rel` under root (an untrusted tree: the build
    context), its components opened one at a time with no link followed, which must be the
    entry whose lstat gave (dev, ino). Opened in the process that mounts it, in its own mount
    namespace (a bind of a path opened in another namespace is refused), and mounted as
    /proc/self/fd/N: a directory on the way swapped for a link to the host after the builder
    checked the source is never followed."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in [p for p in rel.split("/") if p]:
            try:
                nxt = os.open(part, _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except OSError as err:
                if err.errno in (errno.ENOTDIR, errno.ELOOP, errno.ENOENT):
                    raise OSError(errno.ESTALE, SOURCE_CHANGED, rel) from None
                raise
            os.close(fd)
            fd = nxt
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if st.st_dev != dev or st.st_ino != ino or stat.S_ISLNK(st.st_mode):
        os.close(fd)
        raise OSError(errno.ESTALE, SOURCE_CHANGED, rel)
    return fd
