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
less than RACY_NS before the walk began (fs_clock.FINE_NS on a local filesystem keeping
sub-second times, fs_clock.py) is not remembered (`None`), and the key is computed from the
files, as without a memo.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import stat
import time

from runtime.record import Record, record

from ..context.walk_guard import ContextChanged, open_parent, open_root, open_scanned
from .keys import FORMAT, canonical

VERSION = "cairn-step-memo-v1"
RACY_NS = 2_000_000_000  # (coarse file timestamps, network filesystems' clocks)
TREE_ENTRIES = 100_000  # walk_tree's bound: a larger context is never walked whole (ContextTooLarge; the
# stat cache holds as many rows of one root in cairn serve; benchmarks/startup.py's big tree is 20,000 files)


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
    pin: tuple = ()  # the root's (st_dev, st_ino) when the context was opened (BuildContext.pin)


@record
class TreeWalk(Record):
    """walk_tree's walk of a whole context: its entries (`kept` of them from the context's own
    walk, the rest link targets), where each directory's scan is (`dirs`, as _walk's), each
    path's index (filled by its first reader, _from_tree), the .dockerignore patterns it kept by
    and when it began."""

    root: str
    patterns: list
    entries: list
    kept: int
    dirs: dict
    index: dict
    started: int


_shared: TreeWalk | None = None  # the build's own tree walk while `sharing` (one build, one process)


@contextlib.contextmanager
def sharing(tree: TreeWalk | None):
    """While the build runs: walk_context takes what `tree` saw of the context instead of
    stat-ing it again (the whole-build memo's walk, made when the build began)."""
    global _shared
    _shared = tree
    try:
        yield
    finally:
        _shared = None


def walk_context(ctx, selected: list[str]) -> ContextWalk | None:
    """Stat what the key of a COPY/ADD of `selected` from `ctx` reads (ignored entries left out),
    or None when an entry went while it was walked (the caller then reads the context itself);
    ContextChanged when a directory was replaced (walk_guard.py)."""
    tree = _shared
    if tree is not None and not ctx.excludes and str(ctx.root) == tree.root and ctx.patterns == tree.patterns:
        try:
            walk = _from_tree(tree, ctx, selected)
        except OSError:
            return None
        if walk is not None:
            return walk
    started = time.time_ns()
    ignore = ctx.ignored if (ctx.patterns or ctx.excludes) else None
    root = str(ctx.root)
    entries: list = []
    bounds = []
    try:
        resolved = [ctx.resolve_links(named) for named in selected]
        for rel in resolved:
            start, dirs = len(entries), {}
            _walk(root, rel, ignore, entries, dirs, pin=getattr(ctx, "pin", ()))
            bounds.append((start, dirs))
    except ContextChanged:
        raise  # (the walk reached what it did not scan: never a memo, never a second walk that trusts it)
    except OSError:
        return None
    return ContextWalk(root, selected, resolved, bounds, entries, started, tuple(getattr(ctx, "pin", ())))


def _from_tree(tree: TreeWalk, ctx, selected: list[str]) -> ContextWalk | None:
    """walk_context's answer taken from the tree walk, in _walk's order (each directory's
    scan as it was read, then its subdirectories from the last), or None when the tree
    walk did not see a source (an ignored one: the caller stats it)."""
    resolved = [ctx.resolve_links(named) for named in selected]
    entries: list = []
    bounds = []
    every, where, index = tree.entries, tree.dirs, tree.index
    if not index and tree.kept:  # (made on first use: a whole-build memo's hit never needs it, ~2 ms for 20,000)
        index.update({e[0]: i for i, e in enumerate(every[:tree.kept])})
    for rel in resolved:
        i = index.get(rel)
        if i is None or i >= tree.kept:
            return None
        start, dirs = len(entries), {}
        entries.append(every[i])
        stack = [rel] if len(every[i]) == 6 and stat.S_ISDIR(every[i][5]) else []
        while stack:
            base = stack.pop()
            span = where.get(base)
            if span is None:
                return None
            first = len(entries)
            for entry in every[span[0]:span[1]]:
                entries.append(entry)
                if len(entry) == 6 and stat.S_ISDIR(entry[5]):
                    stack.append(entry[0])
            dirs[base] = (first, len(entries))
        bounds.append((start, dirs))
    return ContextWalk(tree.root, selected, resolved, bounds, entries, tree.started, tuple(getattr(ctx, "pin", ())))


def vouched(entries: list, started: int, root: str = "") -> bool:
    """Whether the stat fields of every entry (paths under root) can vouch for it: each changed
    RACY_NS before `started` (time.time_ns() before the walk), or FINE_NS before it on a local
    filesystem that keeps sub-second times (fs_clock.py)."""
    limit = started - RACY_NS
    recent = [e for e in entries if e[3] >= limit]
    if not recent:
        return True
    from .fs_clock import fine

    return all(fine(e, started, os.path.join(root, e[0])) for e in recent)


def context_fingerprint(walk: ContextWalk, parent: str, epoch, definition: dict, with_mode: bool) -> str | None:
    """The fingerprint of a COPY/ADD step whose sources the walk saw, or None when an entry
    changed too recently to be vouched for by its stat fields."""
    if not vouched(walk.entries, walk.started, walk.root):
        return None
    import hashlib  # (here: a rebuild the build memo answers loads no OpenSSL)

    head = canonical([VERSION, FORMAT, walk.root, parent, epoch, definition, walk.selected, walk.resolved, with_mode])
    h = hashlib.sha256(head.encode())
    h.update(entries_bytes(walk.entries))
    return h.hexdigest()


def entries_bytes(entries: list) -> bytes:
    """The walk's entries as bytes to hash: marshal's version 2, which writes every object in
    full. Later versions mark an object referenced more than once at the time (its reference
    count) and write it once, so the same entries could give other bytes, and a step or build
    memo a miss, by how many references the process happened to hold."""
    return marshal.dumps(entries, 2)


class ContextTooLarge(ValueError):
    """walk_tree met more than TREE_ENTRIES entries (its time and memory grow with the context)."""


def walk_tree(ctx) -> TreeWalk:
    """The walk (its `entries`) of of everything in the context `ctx` that its .dockerignore keeps (the root
    first), as walk_context's; then what a link names that the walk left out (a COPY of
    `link` copies an ignored target through it): each such target walked whole, or
    (path, -1, -1, -1) when it is not there, so that its edit, or its coming, is a change too."""
    out: list = []
    started, dirs = time.time_ns(), {}
    pin = getattr(ctx, "pin", ())
    _walk(str(ctx.root), "", ctx.ignored if ctx.patterns else None, out, dirs, TREE_ENTRIES, split=True, pin=pin)
    kept = len(out)
    if ctx.patterns:
        seen = {e[0] for e in out}
        i = 0
        while i < len(out):  # (the targets' own links too: out grows as they are walked)
            entry = out[i]
            i += 1
            if len(entry) != 7:
                continue
            target = ctx.resolve_links(entry[0])
            if target in seen:
                continue
            seen.add(target)
            start = len(out)
            try:
                _walk(str(ctx.root), target, None, out, {}, TREE_ENTRIES, pin=pin)
            except FileNotFoundError:
                out.append((target, -1, -1, -1))
            seen.update(e[0] for e in out[start:])
    return TreeWalk(str(ctx.root), ctx.patterns, out, kept, dirs, {}, started)


def _walk(root: str, rel: str, ignore, out: list, dirs: dict, limit: int | None = None, split: bool = False,
          pin=()) -> None:
    """Append (path, size, mtime_ns, ctime_ns, inode, mode[, link target]) of `rel` and of
    everything below it that is not ignored; dirs[d] = (start, end): where the entries of
    directory d are in `out` (one scan's, together). A link is an entry, never descended; a
    directory is read only when it is the one its parent's scan saw (walk_guard.py:
    ContextChanged otherwise), rel's own directories are opened following no link.
    split: a walk past SPLIT_AFTER entries may hand part of what is left to a forked child
    (_scan), with the same result. pin: the root's (st_dev, st_ino) (walk_guard.open_root)."""
    root_fd = open_root(root, pin)
    try:
        if rel:  # (rel's directories opened one at a time, no link followed: walk_guard.open_parent)
            fd, name = open_parent(root_fd, rel)
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                link = os.readlink(name, dir_fd=fd) if stat.S_ISLNK(st.st_mode) else None
            finally:
                if fd != root_fd:
                    os.close(fd)
        else:
            st, link = os.fstat(root_fd), None
        mode = st.st_mode
        if link is not None:
            out.append((rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode, link))
            return
        out.append((rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode))
        if stat.S_ISDIR(mode):
            _scan(root_fd, [(rel, st.st_dev, st.st_ino)], ignore, out, dirs, limit, SPLIT_AFTER if split else None)
    finally:
        os.close(root_fd)


SPLIT_AFTER = 2_000  # entries a walk sees before it may fork a child to share the rest (forked_part.py):
# below it a walk costs less than ~10 ms, and the fork, the child's marshal and the parent's read ~3-6 ms
_S_IFMT, _S_IFREG, _S_IFDIR, _S_IFLNK = 0o170000, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK


def _scan(root_fd: int, stack: list, ignore, out: list, dirs: dict, limit: int | None, split_after: int | None) -> None:
    """_walk's loop: pop a directory, append its scan's entries, push its subdirectories. The
    output is the depth-first order of a stack: a directory's whole subtree is one contiguous
    run, and the subtrees of the directories on the stack follow each other from its top to
    its bottom. So past split_after entries (with two directories or more left on the stack)
    the bottom of the stack (2/5 of it) is walked by a forked child into a list of its own, which is
    appended, its `dirs` shifted, after the parent's part: the same entries in the same order.
    The child stops at `limit` counting what the parent had when it forked (a lower bound of
    what lies before its part); the whole is checked against `limit` when joined. A child that
    fails gives no answer: the parent walks its part itself, so an error (a directory gone) is
    raised as the walk in one process raises it."""
    append, push, pop, fmt = out.append, stack.append, stack.pop, _S_IFMT
    part = None
    try:
        while True:
            while stack:
                base, dev, ino = pop()
                fd = open_scanned(base or ".", root_fd, dev, ino)
                try:
                    prefix = base + "/" if base else ""
                    first = len(out)
                    with os.scandir(fd) as it:
                        for e in it:
                            if ignore is not None and ignore(prefix + e.name):
                                continue
                            st = e.stat(follow_symlinks=False)
                            mode = st.st_mode
                            kind = mode & fmt
                            if kind == _S_IFREG:
                                append((prefix + e.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode))
                            elif kind == _S_IFDIR:
                                child = prefix + e.name
                                append((child, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode))
                                push((child, st.st_dev, st.st_ino))  # (the one open_scanned must find there)
                            elif kind == _S_IFLNK:
                                append((prefix + e.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode,
                                        os.readlink(e.name, dir_fd=fd)))
                            else:
                                append((prefix + e.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode))
                    dirs[base] = (first, len(out))
                    if limit is not None and len(out) > limit:
                        raise ContextTooLarge(f"the context has over {limit} entries")
                finally:
                    os.close(fd)
                if split_after is not None and len(out) > split_after and len(stack) > 1:
                    split_after = None
                    from . import forked_part

                    taken = stack[:max(1, len(stack) * 2 // 5)]  # (less than half: the child's fork and marshal)
                    part = forked_part.start(_child_scan, root_fd, taken, ignore,
                                             None if limit is None else limit - len(out))
                    if part is not None:
                        del stack[:len(taken)]
            if part is None:
                return
            got, part = part.result(), None
            if got is None:  # (the child failed: the bottom of the stack it took is walked here)
                stack.extend(taken)
                continue
            if got[0] == "oserror":  # (unless the bound was passed before it, as one process raises)
                if limit is None or len(out) + got[4] <= limit:
                    raise ContextChanged(got[3]) if got[5] else OSError(*got[1:4])
            elif got[0] == "ok":
                shift = len(out)
                out.extend(got[1])
                for d, (i, j) in got[2].items():
                    dirs[d] = (i + shift, j + shift)
            if limit is not None and len(out) > limit or got[0] != "ok":
                raise ContextTooLarge(f"the context has over {limit} entries")
            return
    finally:
        if part is not None:
            part.abandon()


def _child_scan(root_fd: int, stack: list, ignore, limit: int | None) -> tuple:
    """In the forked child: ("ok", entries, dirs) of the stack's subtrees, offsets from 0;
    ("large",) when they pass `limit`; ("oserror", errno, strerror, filename, entries before
    it at the last scan's end, whether it is ContextChanged) when a directory or entry went or
    was replaced (any other error fails the child: the parent walks its part)."""
    out: list = []
    dirs: dict = {}
    try:
        _scan(root_fd, stack, ignore, out, dirs, limit, None)
    except ContextTooLarge:
        return ("large",)
    except OSError as e:
        return ("oserror", e.errno, e.strerror, e.filename, max((j for _i, j in dirs.values()), default=0),
                isinstance(e, ContextChanged))
    return ("ok", out, dirs)
