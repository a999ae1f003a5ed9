"""Overlay mounts of a layer stack: the lower directories made mountable, then mounted.

The stack is cleaned first (`mountable_lowers`):
- a directory that appears more than once is kept only at its topmost place. Overlayfs
  refuses a repeated lower ("conflicting lowerdir path"), and images repeat layers (two
  RUN steps that change nothing give the same empty layer). Dropping the lower copies
  never changes the merged view: a lookup walks the lowers top down and stops at the first
  one that decides a name (an entry, a whiteout, an opaque directory, a non-directory
  ancestor); the lower copy holds exactly what the upper copy holds, so the upper copy
  has decided every name the lower copy could decide, and a lookup that passes the upper
  copy also passes the lower one. Keeping the bottom copy instead would be wrong: in
  A, B, A (bottom first) the top A restores what B deleted or changed.
- a directory with no entries (and no opaque mark) adds nothing and is skipped, except
  that the topmost one is kept, since the root's own mode comes from the topmost lower.

The mount uses the new mount API (fsopen, fsconfig with one `lowerdir+` per layer,
fsmount, move_mount; Linux 6.8 and later), so that neither the 4096-byte limit of
mount(2)'s option string nor commas or colons in paths limit the stack; older kernels
get mount(2) with the joined list. Overlayfs itself takes at most 500 lowers.
"""

from __future__ import annotations

import ctypes
import errno
import os

from . import syscalls as sc
from . import userns

MAX_LOWERS = 500  # overlayfs's OVL_MAX_STACK

# The new mount API has the same syscall numbers on every architecture.
_SYS_MOVE_MOUNT, _SYS_FSOPEN, _SYS_FSCONFIG, _SYS_FSMOUNT = 429, 430, 431, 432
_FSOPEN_CLOEXEC = 1
_FSCONFIG_SET_FLAG = 0
_FSCONFIG_SET_STRING = 1
_FSCONFIG_CMD_CREATE = 6
_FSMOUNT_CLOEXEC = 1
_MOVE_MOUNT_F_EMPTY_PATH = 4
_syscall = sc._libc.syscall


def _is_empty(path: str) -> bool:
    try:
        with os.scandir(path) as it:
            if next(it, None) is not None:
                return False
    except OSError:
        return False  # unreadable: left to the mount to judge
    try:
        return os.getxattr(path, userns.opaque_xattr(), follow_symlinks=False) != b"y"
    except OSError:
        return True  # no opaque mark


def mountable_lowers(lowers: list[str] | tuple[str, ...]) -> list[str]:
    """The lower directories (top first) to mount for the same merged view: each directory
    once, at its topmost place, and no empty layer below the top."""
    out: list[str] = []
    seen: set[str] = set()
    for path in lowers:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        if out and _is_empty(path):
            continue
        out.append(path)
    return out


def _call(number: int, what: str, *args) -> int:
    result = _syscall(ctypes.c_long(number), *args)
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _new_api(target: str, lowers: list[str], upper: str | None, work: str | None) -> bool:
    """Mount with fsopen/fsconfig/fsmount; False if this kernel lacks the API or `lowerdir+`."""
    try:
        fs_fd = _call(_SYS_FSOPEN, "fsopen overlay", b"overlay", ctypes.c_uint(_FSOPEN_CLOEXEC))
    except OSError as err:
        if err.errno in (errno.ENOSYS, errno.EPERM, errno.ENODEV):
            return False
        raise
    try:
        def put(key: str, value: str) -> None:
            _call(_SYS_FSCONFIG, f"overlay {key}={value}", ctypes.c_int(fs_fd), ctypes.c_uint(_FSCONFIG_SET_STRING),
                  key.encode(), os.fsencode(value), ctypes.c_int(0))

        try:
            put("lowerdir+", lowers[0])
        except OSError as err:
            if err.errno == errno.EINVAL:  # before Linux 6.8: no lowerdir+
                return False
            raise
        for path in lowers[1:]:
            put("lowerdir+", path)
        if upper is not None:
            put("upperdir", upper)
            put("workdir", work)
        if userns.active() is not None:
            _call(_SYS_FSCONFIG, "overlay userxattr", ctypes.c_int(fs_fd), ctypes.c_uint(_FSCONFIG_SET_FLAG),
                  b"userxattr", None, ctypes.c_int(0))
        _call(_SYS_FSCONFIG, f"mount overlay on {target}", ctypes.c_int(fs_fd), ctypes.c_uint(_FSCONFIG_CMD_CREATE),
              None, None, ctypes.c_int(0))
        mnt_fd = _call(_SYS_FSMOUNT, "fsmount overlay", ctypes.c_int(fs_fd), ctypes.c_uint(_FSMOUNT_CLOEXEC),
                       ctypes.c_uint(0))
    finally:
        os.close(fs_fd)
    try:
        _call(_SYS_MOVE_MOUNT, f"move_mount overlay to {target}", ctypes.c_int(mnt_fd), b"",
              ctypes.c_int(-100), os.fsencode(target), ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH))
    finally:
        os.close(mnt_fd)
    return True


def mount_overlay(target: str, lowers: list[str] | tuple[str, ...], upper: str | None = None,
                  work: str | None = None) -> None:
    """Mount the stack `lowers` (top first) on target: writable with upper and work dirs,
    else read-only (one directory left is bound read-only: overlayfs wants two)."""
    stack = mountable_lowers(lowers)
    if not stack:
        raise OSError(errno.EINVAL, "an overlay needs at least one lower directory")
    if len(stack) > MAX_LOWERS:
        raise OSError(errno.EINVAL, f"{len(stack)} distinct layers: overlayfs mounts at most {MAX_LOWERS}")
    if upper is None and len(stack) == 1:
        sc.mount(stack[0], target, None, sc.MS_BIND | sc.MS_REC)
        sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)
        return
    if _new_api(target, stack, upper, work):
        return
    named = [*stack, *((upper, work) if upper is not None else ())]
    if any(c in path for path in named for c in ",:\\\n"):  # (the options are split on them: never another dir)
        raise OSError(errno.EINVAL, "an overlay directory's path holds ',', ':' or a backslash")
    data = f"lowerdir={':'.join(stack)}"
    if upper is not None:
        data += f",upperdir={upper},workdir={work}"
    if userns.active() is not None:
        data += ",userxattr"
    sc.mount("overlay", target, "overlay", 0, data)
