"""A step's input fingerprint: what a COPY/ADD from the build context reads, told by stat
alone, so that an unchanged step finds its cache key without hashing a file or building
the key's JSON (the step memo, store/memo_table.py). When the memo misses, the key is
hashed from the same walk (sources.hash_walked): the context is stat-ed once either way.

The fingerprint is sha256 over the context's root, the parent filesystem's key, the step's
definition without its sources, the source paths as named and as resolved, and, for every
entry the key's walk (sources.hash_context_sources) would read, in the same walk (the same .dockerignore
and --exclude filter): its path, mode (type and bits), size, mtime_ns, ctime_ns and inode,
and a link's target. Any change the key could see changes one of those: new content
changes ctime even when mtime and size are put back, a retargeted link its target, an
added, removed or newly ignored file the list of entries.

A change made within the clock's granularity of an entry's last change could leave its
stat fields as they were (git's "racy clean" case): a fingerprint with an entry changed
less than RACY_NS before the walk began is not remembered (`None`), and the key is computed
from the files, as without a memo.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
import time

from runtime.record import Record, record

from .keys import FORMAT, canonical

VERSION = "cairn-step-memo-v1"
RACY_NS = 2_000_000_000  # (coarse file timestamps, network filesystems' clocks)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@record
class ContextWalk(Record):
    """What the walk of a step's context sources saw: for each source as named, its path
    resolved in the context, and (start, dirs) (`bounds`): entries[start] is what lies there,
    and entries[i:j] for (i, j) = dirs[d] what directory d holds below it; an entry is
    (path, size, mtime_ns, ctime_ns, inode, mode[, link target]) (the stat cache's order)."""

    root: str
    selected: list
    resolved: list
    bounds: list
    entries: list
    started: int  # time.time_ns() when the walk began


def walk_context(ctx, selected: list[str]) -> ContextWalk | None:
    """Stat what the key of a COPY/ADD of `selected` from `ctx` reads (ignored entries left out),
    or None when an entry moved while it was walked (the caller then reads the context itself)."""
    started = time.time_ns()
    ignore = ctx.ignored if (ctx.patterns or ctx.excludes) else None
    root = str(ctx.root)
    entries: list = []
    bounds = []
    try:
        resolved = [ctx.resolve_links(named) for named in selected]
        for rel in resolved:
            start, dirs = len(entries), {}
            _walk(root, rel, ignore, entries, dirs)
            bounds.append((start, dirs))
    except OSError:
        return None
    return ContextWalk(root, selected, resolved, bounds, entries, started)


def context_fingerprint(walk: ContextWalk, parent: str, epoch, definition: dict, with_mode: bool) -> str | None:
    """The fingerprint of a COPY/ADD step whose sources the walk saw, or None when an entry
    changed too recently to be vouched for by its stat fields."""
    newest = max((e[3] for e in walk.entries), default=0)
    if newest >= walk.started - RACY_NS:
        return None
    head = canonical([VERSION, FORMAT, walk.root, parent, epoch, definition, walk.selected, walk.resolved, with_mode])
    h = hashlib.sha256(head.encode())
    h.update(marshal.dumps(walk.entries))
    return h.hexdigest()


def _walk(root: str, rel: str, ignore, out: list, dirs: dict) -> None:
    """Append (path, size, mtime_ns, ctime_ns, inode, mode[, link target]) of `rel` and of
    everything below it that is not ignored; dirs[d] = (start, end): where the entries of
    directory d are in `out` (one scan's, together). A directory is read through an fd opened
    without following a link at its last component (a link is an entry, never descended)."""
    path = os.path.join(root, rel) if rel else root
    st = os.lstat(path)
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        out.append((rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode, os.readlink(path)))
        return
    out.append((rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode))
    if not stat.S_ISDIR(mode):
        return
    append, is_dir, is_link = out.append, stat.S_ISDIR, stat.S_ISLNK
    root_fd = os.open(root, _DIR_FLAGS)
    try:
        stack = [rel]
        while stack:
            base = stack.pop()
            fd = os.open(base or ".", _DIR_FLAGS, dir_fd=root_fd)
            try:
                prefix = base + "/" if base else ""
                first = len(out)
                with os.scandir(fd) as it:
                    for e in it:
                        child = prefix + e.name
                        if ignore is not None and ignore(child):
                            continue
                        st = e.stat(follow_symlinks=False)
                        mode = st.st_mode
                        if is_link(mode):
                            append((child, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode,
                                    os.readlink(e.name, dir_fd=fd)))
                            continue
                        append((child, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode))
                        if is_dir(mode):
                            stack.append(child)
                dirs[base] = (first, len(out))
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)
