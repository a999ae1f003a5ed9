"""What keeps a walk of the build context inside it while the context changes under it: the
context is untrusted, and a directory the walk scanned may be swapped for a link (to `/`, or
anywhere out of the context) before the walk opens it to read what it holds. An open by a
path ("a/b/c" under the root's fd, O_NOFOLLOW) guards only its last component, so every
directory a walk descends into is checked to be the one its parent's scan saw (its st_dev and
st_ino, one fstat of the fd opened); a walk's starting point is opened one component at a time
from the root, following no link; a file read for its hash is opened through the directory
checked, O_PATH first, checked to be the one stat-ed (a regular file, on that directory's
filesystem), and only then opened for reading (open_stated). A mismatch is ContextChanged:
an OSError, as a directory gone mid-walk is, that nothing remembers (memo, stat cache) and
the CLI prints without a traceback."""

from __future__ import annotations

import errno
import os
import stat

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHANGED = "the build context changed while it was read (an entry was replaced); run the build again"


class ContextChanged(OSError):
    """A directory (or file) the walk reached is not the one the walk stat-ed there."""

    def __init__(self, path):
        super().__init__(errno.ESTALE, _CHANGED, path)

    def __reduce__(self):  # (rebuilt as itself, not as OSError(errno, ...))
        return ContextChanged, (self.filename,)


def open_scanned(path: str, dir_fd: int, dev: int, ino: int) -> int:
    """An fd of the directory at `path` under dir_fd, which must be the one whose lstat gave
    (dev, ino); ContextChanged when it is another (a component swapped for a link) or is no
    directory now (a link or a file in its place; gone is FileNotFoundError, as before)."""
    try:
        fd = os.open(path, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ContextChanged(path) from None
        raise
    st = os.fstat(fd)
    if st.st_ino != ino or st.st_dev != dev:
        os.close(fd)
        raise ContextChanged(path)
    return fd


def open_root(root: str, pin=()) -> int:
    """An fd of the context's root directory, opened at its path with no link followed as its
    last component, and checked to be the directory pinned when the context was opened (pin:
    (st_dev, st_ino), BuildContext.pin; empty: not known): ContextChanged when a link or
    another directory is there now (swapped by whoever owns the root's parent)."""
    try:
        fd = os.open(root, DIR_FLAGS)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ContextChanged(root) from None
        raise
    if pin:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != tuple(pin):
            os.close(fd)
            raise ContextChanged(root)
    return fd


def open_parent(root_fd: int, rel: str) -> tuple[int, str]:
    """(fd of rel's directory, rel's last component), its directories opened one at a time from
    root_fd without following a link (`rel` is a path whose links were resolved: a link among
    its directories now is a change). The fd is root_fd itself for a top-level name."""
    *parts, name = rel.split("/")
    fd = root_fd
    try:
        for part in parts:
            try:
                nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as err:  # (a link there: ELOOP or ENOTDIR, as O_DIRECTORY is checked first)
                if err.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(part, fd):
                    raise ContextChanged(rel) from None
                raise
            if fd != root_fd:
                os.close(fd)
            fd = nxt
    except BaseException:
        if fd != root_fd:
            os.close(fd)
        raise
    return fd, name


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def open_dir(name: str, dir_fd: int, path: str) -> int:
    """An fd of the directory `name` under dir_fd, no link followed: ContextChanged when a link
    or no directory is there now."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ContextChanged(path) from None
        raise


_O_PATH = getattr(os, "O_PATH", 0o10000000)
_READ = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK


def open_stated(dir_fd: int | None, name: str, path: str, ino: int, mode: int, dev: int | None) -> int:
    """An fd, open for reading, of the regular file `name` under dir_fd (a directory the walk
    checked; None: `name` is a whole path), which must be the one stat-ed with (ino, mode) on
    the filesystem `dev` (dir_fd's: a file on another is a mount point, refused too; None when
    not known): ContextChanged otherwise. It is opened O_PATH first (no device's, no fifo's open
    runs: a host pty would become a session leader's controlling terminal), checked, then
    reopened through /proc/self/fd; never as a controlling terminal."""
    fd = os.open(name, _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)  # (a link: its own fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_ino != ino or (st.st_mode ^ mode) & 0o170000:
            raise ContextChanged(path)
        if dir_fd is not None and dev is None:
            dev = os.fstat(dir_fd).st_dev
        if dev is not None and st.st_dev != dev:
            raise ContextChanged(path)
        try:
            return os.open(f"/proc/self/fd/{fd}", _READ)
        except FileNotFoundError:  # (no /proc: the name opened again, no link followed, checked again)
            again = os.open(name, _READ | os.O_NOFOLLOW, dir_fd=dir_fd)
            now = os.fstat(again)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                os.close(again)
                raise ContextChanged(path) from None
            return again
    finally:
        os.close(fd)
