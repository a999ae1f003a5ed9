"""Leases: what a live cairn process is using, kept by `prune` whatever the records say.

Each open Store holds one lease: a file `leases/<id>` locked with flock(LOCK_SH) for as
long as any process holds the descriptor (a `run -d` monitor inherits it through fork,
so the lease lasts as long as the detached container). The file lists, one a line, the
snapshots (diff_ids) the process has mounted or is about to; the temp entries it makes
are named `<id>.<...>` in `tmp/`. A lease whose file can be locked exclusively has no
holder left (the process exited or was killed): it is stale, and prune removes it along
with its temp entries. The file is made under a dot-name (`.new-<id>`), locked, then
renamed into place, so no prune finds it unlocked under its name; a `.new-` file is stale
only once the process that made it (the pid its id starts with) is gone: between its open
and its flock it is not yet locked (a build's stale-tmp clean-up removed it there, and the
lease's rename failed: cairn serve answered a concurrent `docker run` "internal error:
FileNotFoundError").
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class Lease:
    def __init__(self, directory: Path):
        self.id = f"{os.getpid()}-{os.urandom(6).hex()}"
        self.path = directory / self.id
        tmp = directory / f".new-{self.id}"
        self._fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_SH)
        os.rename(tmp, self.path)
        self._held: set[str] = set()

    def add(self, names) -> None:
        """Lease these snapshots (diff_id strings) for the life of the process."""
        new = sorted(set(map(str, names)) - self._held)
        if new:
            os.write(self._fd, "".join(f"{n}\n" for n in new).encode())
            self._held.update(new)

    def close(self) -> None:
        """Let go of our descriptor; the file goes unless a forked process still holds it."""
        if self._fd < 0:
            return
        os.close(self._fd)
        self._fd = -1
        _remove_if_stale(self.path)


class LiveLeases:
    def __init__(self, ids: set[str] | None = None, snapshots: set[str] | None = None):
        self.ids = set() if ids is None else ids
        self.snapshots = set() if snapshots is None else snapshots

    def owns_tmp(self, entry: str) -> bool:
        return entry.split(".", 1)[0] in self.ids


def _remove_if_stale(path: Path) -> bool:
    """Remove a lease file nobody holds; True if it was stale."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return True
    finally:
        os.close(fd)


def _maker_alive(name: str) -> bool:
    """Whether the process that made the lease file `name` (`.new-<pid>-<random>`) lives."""
    pid = name.removeprefix(".new-").split("-", 1)[0]
    if not pid.isdigit() or int(pid) <= 0:
        return False
    try:
        os.kill(int(pid), 0)
    except PermissionError:  # (another user's process: alive)
        return True
    except (OSError, OverflowError):
        return False
    return True


def live_leases(directory: Path, own: str = "") -> LiveLeases:
    """The leases other processes still hold (stale ones are removed on the way); `own`,
    the caller's lease, does not count: a process's prune may drop what it used itself."""
    live = LiveLeases()
    for name in os.listdir(directory):
        path = directory / name
        if name.removeprefix(".new-") == own:
            continue
        if not (name.startswith(".new-") and _maker_alive(name)) and _remove_if_stale(path):
            continue  # (a `.new-` file whose maker lives is being made, maybe not locked yet)
        live.ids.add(name.removeprefix(".new-"))
        try:
            live.snapshots.update(line for line in path.read_text().splitlines() if line)
        except FileNotFoundError:
            continue
    return live
