"""Vouching at a build's end for context files changed just before it began (issue 17).

The whole-build memo (build_memo.py) is keyed by the stat fields of every context entry, and
a stat taken within fs_clock.FINE_NS of a change cannot vouch for the content: a rewrite in
the same clock tick could leave every field as it was. A script that edits and builds at
once (a checkout, a code generator, a benchmark) so recorded no memo, and its next no-op
rebuild took the step path.

At the end of such a build, the walk is vouched for when each entry it found too recent:
- is a regular file on a local filesystem that keeps sub-second times (fs_clock.fine_fs);
- was hashed by the build's steps with exactly the stat fields the walk saw, to one digest
  each time they read it (sources.StatCache.racy);
- once FINE_NS has passed since its ctime (waited for: at most FINE_NS), still has those
  stat fields before and after it is read again, and its content hashes to that digest.
Why that is enough: after the wait a write gives the file a ctime past the one seen, so from
then on those stat fields can only go with the content read again, which is the content the
steps used. Any other recent entry (a directory, a link, a .dockerignore, a file no step
read) leaves the build unrecorded, as before.
"""

from __future__ import annotations

import os
import stat
import time

from . import fingerprint, fs_clock


def vouch_late(entries: list, started: int, root: str, racy: dict) -> bool:
    """Whether the walk's entries (taken at `started`, paths under root) can be vouched for now."""
    limit = started - fingerprint.RACY_NS
    checks = []
    for entry in entries:
        if entry[3] < limit:
            continue
        path = os.path.join(root, entry[0])
        if fs_clock.fine(entry, started, path):
            continue
        read = racy.get(path)
        if len(entry) != 6 or not stat.S_ISREG(entry[5]) or read is None or read[0][1:6] != tuple(entry[1:6]) \
                or not fs_clock.fine_fs(entry, path):
            return False
        checks.append((path, entry, read[1]))
    if not checks:
        return False  # (the walk was too recent for another reason: nothing here can vouch for it)
    settled = max(entry[3] for _, entry, _ in checks) + fs_clock.FINE_NS
    wait = settled - time.time_ns()
    if wait > fs_clock.FINE_NS:  # (a ctime ahead of the clock: a clock set back, another machine's)
        return False
    if wait > 0:
        time.sleep(wait / 1e9)
    if time.time_ns() < settled:
        return False
    from .sources import _read_hash

    for path, entry, digest in checks:
        dev = _stat_dev(path, entry)
        if dev is None:
            return False
        try:
            again, complete = _read_hash(path, entry, dev)
        except OSError:
            return False
        if not complete or again != digest or _stat_dev(path, entry) != dev:
            return False
    return True


def _stat_dev(path: str, entry: tuple) -> int | None:
    """The st_dev of the file at path when its stat fields are still the entry's, else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode) != tuple(entry[1:6]):
        return None
    return st.st_dev
