"""The one way cairn writes into a directory tree (a layer, a snapshot, a rootfs, an output
directory) and reads a tree it does not trust (the build context, a stage's snapshot).

Paths are resolved from an fd of the root, one component at a time, with `O_NOFOLLOW`:
nothing is ever looked up by a host path string that a symlink could redirect between a
check and a use (docker cp's CVE-2018-15664 class). Two rules, chosen to match BuildKit:

- `Tree.resolve` / `Tree.makedirs` (the destination of a COPY, a mount point, a file the
  runtime writes): a symlink met on the way is followed *inside* the root, as the
  container would see it: an absolute target restarts at the root, `..` stops there.
- Below a resolved directory (`child_dir`, `new_file`, `symlink`, ...), a symlink where a
  directory is needed is an error ("cannot copy to non-directory"), and the last component
  is never followed: a new file or link replaces a link standing at its name.

So no write lands outside the root, whatever links a Dockerfile, a context, an image layer
or a container process made. Directory fds are O_CLOEXEC and closed by their owners.
"""

from __future__ import annotations

import errno
import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_LINKS = 40


class TreeError(OSError):
    """A path that cannot be resolved or written inside its tree; the message says why."""


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


class Tree:
    """A directory tree that paths are resolved inside. Use as a context manager."""

    def __init__(self, root: str | os.PathLike):
        self.root = os.fspath(root)
        self.fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "Tree":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def resolve(self, path: str, create: bool = False, on_create=None) -> tuple[int, str]:
        """(fd, in-root path) of the directory at `path`, symlinks followed inside the root.

        With `create`, missing directories are made (mode 0755) and `on_create(dir_fd,
        name, inroot_path)` is called for each right after it is made. The caller closes fd.
        """
        stack: list[tuple[int, str]] = [(os.dup(self.fd), "")]
        todo = _parts(path)
        hops = 0
        try:
            while todo:
                part = todo.pop(0)
                if part == "..":
                    if len(stack) > 1:
                        os.close(stack.pop()[0])
                    continue
                cur, cur_path = stack[-1]
                child_path = f"{cur_path}/{part}"
                try:
                    fd = os.open(part, _DIR_FLAGS, dir_fd=cur)
                except FileNotFoundError:
                    if not create:
                        raise TreeError(errno.ENOENT, f"{child_path}: no such directory", path) from None
                    try:
                        os.mkdir(part, 0o755, dir_fd=cur)
                    except FileExistsError:
                        todo.insert(0, part)  # raced with another writer: look again
                        continue
                    if on_create is not None:
                        on_create(cur, part, child_path)
                    fd = os.open(part, _DIR_FLAGS, dir_fd=cur)
                except OSError as err:
                    if err.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    try:
                        target = os.readlink(part, dir_fd=cur)
                    except OSError:
                        raise TreeError(errno.ENOTDIR, f"{child_path}: not a directory", path) from None
                    hops += 1
                    if hops > MAX_LINKS:
                        raise TreeError(errno.ELOOP, f"{path}: too many levels of symbolic links", path) from None
                    if target.startswith("/"):
                        while len(stack) > 1:
                            os.close(stack.pop()[0])
                    todo[:0] = _parts(target)
                    continue
                stack.append((fd, child_path))
            fd, where = stack.pop()
            return fd, where or "/"
        finally:
            for fd, _ in stack:
                os.close(fd)

    def makedirs(self, path: str, on_create=None) -> int:
        """An fd of directory `path`, made (with its parents) where missing; see resolve()."""
        return self.resolve(path, create=True, on_create=on_create)[0]

    def parent(self, path: str, create: bool = False, on_create=None) -> tuple[int, str]:
        """(fd of path's parent directory resolved inside the root, path's last name)."""
        parts = _parts(path)
        if not parts or parts[-1] == "..":
            raise TreeError(errno.EINVAL, f"{path}: names no entry inside the tree", path)
        fd, _ = self.resolve("/".join(parts[:-1]), create=create, on_create=on_create)
        return fd, parts[-1]

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Create or replace the regular file at path (parents made) with `data`."""
        dfd, name = self.parent(path, create=True)
        try:
            fd = new_file(dfd, name, mode)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
        finally:
            os.close(dfd)

    def lstat(self, path: str) -> os.stat_result | None:
        """The entry at path (last component not followed), or None."""
        try:
            dfd, name = self.parent(path)
        except TreeError:
            return None
        try:
            return os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        finally:
            os.close(dfd)

    def open_file(self, path: str) -> int:
        """A read-only fd of the regular file at path, every link followed inside the root."""
        real = self.realpath(path)
        dfd, name = self.parent(real)
        try:  # looked at through O_PATH first: a FIFO or a device is never opened
            pfd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        finally:
            os.close(dfd)
        try:
            if not stat.S_ISREG(os.fstat(pfd).st_mode):
                raise TreeError(errno.EINVAL, f"{path}: not a regular file", path)
            return os.open(f"/proc/self/fd/{pfd}", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.close(pfd)

    def realpath(self, path: str) -> str:
        """The in-root path that `path` names once every link is followed inside the root."""
        parts = _parts(path)
        hops = 0
        while parts:
            fd, where = self.resolve("/".join(parts[:-1]))
            try:
                last = parts[-1]
                if last == "..":
                    return os.path.dirname(where.rstrip("/")) or "/"
                try:
                    target = os.readlink(last, dir_fd=fd)
                except OSError:
                    return f"{where.rstrip('/')}/{last}"
            finally:
                os.close(fd)
            hops += 1
            if hops > MAX_LINKS:
                raise TreeError(errno.ELOOP, f"{path}: too many levels of symbolic links", path)
            base = [] if target.startswith("/") else _parts(where)
            parts = base + _parts(target)
        return "/"


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def remove(dir_fd: int, name: str) -> None:
    """Remove the entry `name` (a whole directory too) without following any link."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        for child in os.listdir(fd):
            remove(fd, child)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def open_dir(dir_fd: int, name: str) -> int:
    """An fd of the existing directory `name` in dir_fd. A link or a file standing there is
    an error (TreeError, ENOTDIR): below a resolved directory no link is followed."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise TreeError(errno.ENOTDIR, f"cannot copy to non-directory: {name}", name) from None
        raise


def child_dir(dir_fd: int, name: str, mode: int = 0o755) -> tuple[int, bool]:
    """(fd, made) of the directory `name` in dir_fd, made when missing. A link or a file
    standing there is an error: a copy never writes through a link below its destination."""
    try:
        return open_dir(dir_fd, name), False
    except FileNotFoundError:
        pass
    made = False
    try:
        os.mkdir(name, mode, dir_fd=dir_fd)
        made = True
    except FileExistsError:
        pass  # made by another writer meanwhile: open_dir checks what it is
    return open_dir(dir_fd, name), made


def new_file(dir_fd: int, name: str, mode: int = 0o644) -> int:
    """A write fd of a new regular file `name`, replacing a file or link standing there."""
    try:
        return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                       dir_fd=dir_fd)
    except FileExistsError:
        _unlink_not_dir(dir_fd, name)
        return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                       dir_fd=dir_fd)


def symlink(dir_fd: int, name: str, target: str) -> None:
    """A symlink `name` -> target (stored as data, never followed), replacing what stands there."""
    try:
        os.symlink(target, name, dir_fd=dir_fd)
    except FileExistsError:
        _unlink_not_dir(dir_fd, name)
        os.symlink(target, name, dir_fd=dir_fd)


def hardlink(src_dir_fd: int, src_name: str, dir_fd: int, name: str) -> None:
    """A hard link `name` to the entry src_name (a link itself, never what it points at),
    replacing a non-directory standing at `name`. Both directories are inside one tree."""
    try:
        os.link(src_name, name, src_dir_fd=src_dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        _unlink_not_dir(dir_fd, name)
        os.link(src_name, name, src_dir_fd=src_dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)


def mknod(dir_fd: int, name: str, mode: int, device: int = 0) -> None:
    """A device node or fifo `name` (mode holds its type), replacing a non-directory there."""
    try:
        os.mknod(name, mode, device, dir_fd=dir_fd)
    except FileExistsError:
        _unlink_not_dir(dir_fd, name)
        os.mknod(name, mode, device, dir_fd=dir_fd)


def _unlink_not_dir(dir_fd: int, name: str) -> None:
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        raise TreeError(errno.EISDIR, f"cannot overwrite directory {name} with a non-directory", name)
    os.unlink(name, dir_fd=dir_fd)


def set_meta(dir_fd: int, name: str, *, owner: tuple[int, int] | None = None, mode: int | None = None,
             mtime_ns: int | None = None) -> None:
    """Owner, permission bits and mtime of `name`, never following it (a link keeps its mode)."""
    if owner is not None:
        os.chown(name, owner[0], owner[1], dir_fd=dir_fd, follow_symlinks=False)
    if mode is not None:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                os.chmod(f"/proc/self/fd/{fd}", mode)
            finally:
                os.close(fd)
    if mtime_ns is not None:
        os.utime(name, ns=(mtime_ns, mtime_ns), dir_fd=dir_fd, follow_symlinks=False)


def copy_file(src_fd: int, dir_fd: int, name: str) -> None:
    """A new regular file `name` (mode 0600, replacing a file or link there) with src_fd's bytes."""
    dst = new_file(dir_fd, name, 0o600)
    try:
        copy_fd(src_fd, dst)
    finally:
        os.close(dst)


def chown_below(dir_fd: int, owner: tuple[int, int]) -> None:
    """Give every entry below dir_fd the owner, never following a link; the mode bits the
    kernel clears on a chown (setuid, setgid) are put back."""
    for name in os.listdir(dir_fd):
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        set_meta(dir_fd, name, owner=owner,
                 mode=None if stat.S_ISLNK(st.st_mode) else stat.S_IMODE(st.st_mode))
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            try:
                chown_below(fd, owner)
            finally:
                os.close(fd)


def copy_fd(src_fd: int, dst_fd: int) -> None:
    """All of src_fd's bytes into dst_fd, in the kernel where it can."""
    while True:
        try:
            n = os.copy_file_range(src_fd, dst_fd, 1 << 30)
        except OSError as err:
            if err.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            break
        if n == 0:
            return
    while chunk := os.read(src_fd, 1 << 20):
        write_all(dst_fd, chunk)
