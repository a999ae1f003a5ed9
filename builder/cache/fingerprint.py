"""A step's input fingerprint: what a COPY/ADD from the build context reads, told by stat
alone, so that an unchanged step finds its cache key without hashing a file or building
the key's JSON (the step memo, store/memo_table.py).

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

from .keys import FORMAT, canonical

VERSION = "cairn-step-memo-v1"
RACY_NS = 2_000_000_000  # (coarse file timestamps, network filesystems' clocks)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def context_fingerprint(parent: str, epoch, definition: dict, ctx, selected: list[str],
                        with_mode: bool) -> str | None:
    """The fingerprint of a COPY/ADD step that reads `selected` from the context `ctx`, or
    None when the walk met something it cannot vouch for (a racy entry, a file that moved
    while walked): the caller then computes the key from the files."""
    started = time.time_ns()
    ignore = ctx.ignored if (ctx.patterns or ctx.excludes) else None
    root = str(ctx.root)
    entries: list = []
    try:
        resolved = [ctx.resolve_links(named) for named in selected]
        for rel in resolved:
            _walk(root, rel, ignore, entries)
    except OSError:
        return None
    newest = max((e[4] for e in entries), default=0)
    if newest >= started - RACY_NS:
        return None
    head = canonical([VERSION, FORMAT, root, parent, epoch, definition, selected, resolved, with_mode])
    h = hashlib.sha256(head.encode())
    h.update(marshal.dumps(entries))
    return h.hexdigest()


def _walk(root: str, rel: str, ignore, out: list) -> None:
    """Append (path, mode, size, mtime_ns, ctime_ns, inode[, link target]) of `rel` and of
    everything below it that is not ignored. A directory is read through an fd opened
    without following a link at its last component (a link is an entry, never descended)."""
    path = os.path.join(root, rel) if rel else root
    st = os.lstat(path)
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        out.append((rel, mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, os.readlink(path)))
        return
    out.append((rel, mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
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
                with os.scandir(fd) as it:
                    for e in it:
                        child = prefix + e.name
                        if ignore is not None and ignore(child):
                            continue
                        st = e.stat(follow_symlinks=False)
                        mode = st.st_mode
                        if is_link(mode):
                            append((child, mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino,
                                    os.readlink(e.name, dir_fd=fd)))
                            continue
                        append((child, mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
                        if is_dir(mode):
                            stack.append(child)
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)
