"""Remove a directory tree of any depth, best effort (what cannot be removed is left, as
shutil.rmtree's ignore_errors): the store's scratch and container directories, an unpacked
context. An explicit stack, not a recursion (shutil.rmtree recurses once per level, and a
tree a container or a context made may be some thousands of directories deep). Each
directory is opened under its parent's fd following no link, its entries removed by name:
a link is removed, never followed. A directory that denies its owner gets mode 0700 (through
an O_PATH fd: never a link's target)."""

from __future__ import annotations

import os

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_all(path) -> None:
    try:
        top = os.open(path, _DIR_FLAGS)
    except NotADirectoryError:
        _ignore(os.unlink, path)
        return
    except OSError as err:
        if err.errno == 40:  # ELOOP: a link
            _ignore(os.unlink, path)
        return
    todo = [[top, "", None]]  # [fd, its name in the directory below it, its subdirectories left]
    try:
        while todo:
            frame = todo[-1]
            fd = frame[0]
            if frame[2] is None:
                frame[2] = _remove_files(fd)
            if frame[2]:
                name = frame[2].pop()
                child = _open_dir(fd, name)
                if child is not None:
                    todo.append([child, name, None])
                continue
            todo.pop()
            os.close(fd)
            if todo:
                _ignore(os.rmdir, frame[1], dir_fd=todo[-1][0])
    finally:
        for frame in todo:
            os.close(frame[0])
    _ignore(os.rmdir, path)


def _remove_files(fd: int) -> list[str]:
    """Unlink what the directory fd holds but directories; their names."""
    try:
        with os.scandir(fd) as it:
            entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    except PermissionError:
        _ignore(os.fchmod, fd, 0o700)
        try:
            with os.scandir(fd) as it:
                entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
        except OSError:
            return []
    except OSError:
        return []
    dirs = []
    for name, is_dir in entries:
        if is_dir:
            dirs.append(name)
            continue
        try:
            os.unlink(name, dir_fd=fd)
        except PermissionError:
            _ignore(os.fchmod, fd, 0o700)
            _ignore(os.unlink, name, dir_fd=fd)
        except OSError:
            pass
    return dirs


def _open_dir(fd: int, name: str) -> int | None:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except PermissionError:
        pass
    except OSError:
        return None
    try:
        pinned = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    except OSError:
        return None
    try:
        os.chmod(f"/proc/self/fd/{pinned}", 0o700)
        return os.open(f"/proc/self/fd/{pinned}", _DIR_FLAGS)
    except OSError:
        return None
    finally:
        os.close(pinned)


def _ignore(func, *args, **kwargs) -> None:
    try:
        func(*args, **kwargs)
    except OSError:
        pass
