"""Cgroup directories made ahead of a container start (issue 17): a small pool per location.

On cgroup v1 the kernel renames a cgroup directory within its parent, so a `cairn run`
takes a ready directory by renaming `.pool-<token>` to its container's name instead of
making it and writing the devices controller's allow-list (~1.5 ms here). The pool is
refilled while the container runs (`refill`, from a thread that overlaps the wait), never
on the start's path.

A pool entry is one fresh directory per v1 controller, all called `.pool-<rules>-<token>`, made
and given docker's default device rules under `.fill-<pid>-<token>` names and renamed in
reverse controller order, so the first controller's `.pool-` name (the one takers list)
appears only once the whole entry is ready. A directory enters the pool only when made:
never one a container has used, so none carries a process or a limit (limits are written
per run, after the take). Only for the default: no --cgroup-parent, docker's default
devices. cgroup v2 refuses a rename (EPERM) and on a hybrid host the v2 tree holds the
device program: those directories are still made per run.

`drain` removes every entry (`cairn prune`; the tests' module clean-up).
"""

from __future__ import annotations

import binascii
import os
from pathlib import Path

from .devices import set_v1_rules

POOL_PREFIX, FILL_PREFIX = ".pool-", ".fill-"
POOL_SIZE = 2


def _ready_prefix(devices) -> str:
    """An entry's name names the device rules it was made with: a cairn whose rules differ
    (another version) never takes it."""
    return f"{POOL_PREFIX}{binascii.crc32(repr(devices).encode()):08x}-"


def _v1(paths: dict[str, Path]) -> list[str]:
    return [ctrl for ctrl in paths if ctrl != "unified"]


def take(paths: dict[str, Path], devices) -> set[str]:
    """Rename a ready entry to `paths` (a container's v1 directories); the controllers taken.
    Another cairn taking the same entry first makes the first rename fail: the next is tried."""
    ctrls = _v1(paths)
    if not ctrls:
        return set()
    first = paths[ctrls[0]]
    try:
        prefix = _ready_prefix(devices)
        ready = [name for name in os.listdir(first.parent) if name.startswith(prefix)]
    except OSError:
        return set()
    for name in ready:
        try:
            os.rename(first.parent / name, first)
        except OSError:
            continue  # taken meanwhile (or drained)
        taken = {ctrls[0]}
        for ctrl in ctrls[1:]:
            try:
                os.rename(paths[ctrl].parent / name, paths[ctrl])
                taken.add(ctrl)
            except OSError:
                pass  # drained meanwhile: this one is made as without a pool
        return taken
    return set()


def refill(paths: dict[str, Path], devices) -> None:
    """Make entries until the pool beside `paths` holds POOL_SIZE (best effort: an error
    leaves no part of the entry it was making)."""
    ctrls = _v1(paths)
    if not ctrls:
        return
    parents = {ctrl: paths[ctrl].parent for ctrl in ctrls}
    try:
        prefix = _ready_prefix(devices)
        have = sum(name.startswith(prefix) for name in os.listdir(parents[ctrls[0]]))
    except OSError:
        return
    for _ in range(POOL_SIZE - have):
        token = os.urandom(6).hex()
        temp, ready = f"{FILL_PREFIX}{os.getpid()}-{token}", prefix + token
        try:
            for ctrl in ctrls:
                os.mkdir(parents[ctrl] / temp)
            if "devices" in parents:
                set_v1_rules(parents["devices"] / temp, devices)
            for ctrl in reversed(ctrls):
                os.rename(parents[ctrl] / temp, parents[ctrl] / ready)
        except OSError:
            for ctrl in ctrls:
                for name in (temp, ready):
                    try:
                        os.rmdir(parents[ctrl] / name)
                    except OSError:
                        pass
            return


def drain(paths: dict[str, Path]) -> int:
    """Remove every entry (ready or being made) beside `paths`, and the shared directory
    if that leaves it empty; how many directories were removed. A taker that renamed one
    first has it as its own."""
    removed = 0
    for ctrl in _v1(paths):
        parent = paths[ctrl].parent
        try:
            names = [n for n in os.listdir(parent) if n.startswith((POOL_PREFIX, FILL_PREFIX))]
        except OSError:
            continue
        for name in names:
            try:
                os.rmdir(parent / name)
                removed += 1
            except OSError:
                pass
        try:
            parent.rmdir()
        except OSError:
            pass
    return removed
