"""Content hashes of what a COPY/ADD selects, as BuildKit hashes it: for each entry its
path relative to the source, type, mode bits (left out with --chmod), and content
(xxh3-128) or link target; never mtime, and no owner for the build context. For
`COPY --from=<stage>` the same, read from the stage's merged view of its layers, with
the owner (kept by the copy), so that an edit which leaves the copied files identical
still hits.

Files are hashed behind a stat cache in the store's database, keyed by path and holding
(size, mtime_ns, ctime_ns, inode, mode): an unchanged context is stat-ed, never read, and
any change to those fields (a same-size rewrite changes ctime) means the file is read again.
A file whose ctime is within fingerprint.RACY_NS of the build's start (fs_clock.FINE_NS on a
local filesystem keeping sub-second times) is hashed but not remembered: on a filesystem with
coarse times (whole seconds: ext4 with small inodes, FAT,
network shares) a rewrite in the same tick would keep every stat field (git's "racy clean").
"""

from __future__ import annotations

import operator
import os
import stat
import time

import xxhash

from ..context import walk_guard
from ..store import stat_table
from ..store.store import Store
from . import fingerprint, fs_clock, stat_memory

_CHUNK = 1 << 20
_NAME = operator.attrgetter("name")
_FIRST = operator.itemgetter(0)
_WHOLE = 8 << 20  # files up to this size are read in one call


class StatCache:
    def __init__(self, store: Store):
        self.store = store
        self.pending: list[tuple] = []
        self.known: dict[str, tuple] = {}
        self.loaded: set[str] = set()
        self.started = time.time_ns()
        # under `cairn serve`: the rows the daemon holds (stat_memory.py), the roots answered
        # from them ("delta" in the report) and the rows looked up since
        self.memory = stat_memory.held(store.root)
        self.warm: dict[str, str] = {}  # root -> its prefix ("root/")
        self.looked_up: list[tuple] = []
        # path -> (seen, digest) of each file hashed but changed too recently to be remembered
        # (None: read with other stat fields or another digest, or changing while read), for
        # the build memo's vouching at the build's end (late_vouch.py)
        self.racy: dict[str, tuple | None] = {}

    def preload(self, root: str) -> None:
        """Read the entries under a context root in one query (a context is stat-ed, not queried per file)."""
        root = os.path.abspath(root)
        if root in self.loaded:
            return
        self.loaded.add(root)
        prefix = root.rstrip("/") + "/"
        held = self.memory.rows_of(root) if self.memory is not None else None
        if held is not None:
            self.known.update(held)
            self.warm[root] = prefix
            return
        # each row as sqlite gives it, (path, size, mtime_ns, ctime_ns, inode, mode, hash): no
        # object per entry, and the 20,000 rows of a large context come in one pass
        self.known.update({row[0]: row for row in stat_table.rows_under(self.store, prefix)})

    def file_hash(self, path: str, st: os.stat_result, where=None) -> str:
        return self.hash_of(path, (path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode),
                            where if where is not None else st.st_dev)

    def hash_of(self, path: str, seen: tuple, where=None) -> str:
        """The content hash of the file at path, whose stat fields were seen[1:6] (size,
        mtime_ns, ctime_ns, inode, mode: a row's order, compared as one slice). `where`: the
        directory the walk checked that holds it (an _Opened or a _Walked: the file is read
        through it), or the st_dev it was stat-ed on (read by its path)."""
        row = self.known.get(path)
        if row is None and not self.loaded:
            row = stat_table.row_of(self.store, path)
        if row is not None and row[1:6] == seen[1:6]:
            return row[6]
        if self.warm and self._look_up(path, seen):
            return self.known[path][6]
        digest, complete = _read_hash(path, seen, where)
        # (a file that changed while it was read is hashed as read, not remembered; nor one
        # changed so recently that a rewrite could leave its stat fields as they are)
        if complete and (seen[3] < self.started - fingerprint.RACY_NS or fs_clock.fine(seen, self.started, path)):
            row = (path, *seen[1:6], digest)
            self.pending.append(row)
            self.known[path] = row
        else:
            # (by the full path: a walk's entry names the file relative to the context's root,
            # a stat of it (RUN --mount=type=bind's key) in full; the same read either way)
            read = ((path, *seen[1:6]), digest) if complete else None
            self.racy[path] = read if self.racy.get(path, read) == read else None
        return digest

    def _look_up(self, path: str, seen: tuple) -> bool:
        """A miss under a root the daemon held: what the database has for the path (another
        cairn process may have hashed the file since); after stat_memory.MAX_LOOKUPS misses
        the roots are read whole again. True when a row now matches seen."""
        if not any(path.startswith(prefix) for prefix in self.warm.values()):
            return False
        if len(self.looked_up) >= stat_memory.MAX_LOOKUPS:
            for prefix in self.warm.values():
                self.known.update({row[0]: row for row in stat_table.rows_under(self.store, prefix)})
            self.warm.clear()  # (reported whole)
            self.looked_up.clear()
        else:
            found = stat_table.row_of(self.store, path)
            self.looked_up.append(found or (path,))
            if found is not None:
                self.known[path] = found
        row = self.known.get(path)
        return row is not None and row[1:6] == seen[1:6]

    def flush(self) -> None:
        if self.pending:
            stat_table.put_many(self.store, self.pending)
        if self.memory is not None:
            stat_memory.send(self.memory.store_root, self._report())
        self.pending.clear()

    def _report(self) -> list:
        """For the daemon: each root read whole with its rows, each root it held with the rows learned."""
        learned = self.pending + [row for row in self.looked_up if len(row) == 7]
        parts = []
        for root in self.loaded:
            prefix = root.rstrip("/") + "/"
            if root in self.warm:
                parts.append(("delta", root, [row for row in learned if row[0].startswith(prefix)]))
            else:
                rows = [row for path, row in self.known.items() if path.startswith(prefix)]
                if len(rows) <= stat_memory.ROOT_ROWS:
                    parts.append(("full", root, rows))
        return parts


def _read_hash(path: str, seen: tuple, where=None) -> tuple[str, bool]:
    """xxh3-128 of a file's content, and whether it had exactly the size seen[1]. The file read
    is the one stat-ed (walk_guard.open_stated: seen[4] its inode, seen[5] its mode, on the
    directory's filesystem), never one through a directory swapped for a link since, and
    nothing else is opened for reading (no host device, no fifo).

    Small files are read in one os.read and hashed in one call: per file, that is about a
    third of the time of open() + read() in a loop + update() here (20,000 files: 0.21 s
    against 0.59 s)."""
    if where is None or isinstance(where, int):
        fd = walk_guard.open_stated(None, path, path, seen[4], seen[5], where)
    else:
        dir_fd, dev = where.fd_dev()
        fd = walk_guard.open_stated(dir_fd, path.rpartition("/")[2], path, seen[4], seen[5], dev)
    try:
        size = seen[1]
        if size <= _WHOLE:
            data = os.read(fd, size + 1)
            if len(data) <= size:
                return xxhash.xxh3_128_hexdigest(data), len(data) == size
            h = xxhash.xxh3_128(data)
        else:
            h = xxhash.xxh3_128()
        total = 0 if size > _WHOLE else len(data)
        while chunk := os.read(fd, _CHUNK):
            h.update(chunk)
            total += len(chunk)
        return h.hexdigest(), total == size
    finally:
        os.close(fd)


class _Opened:
    """A directory a walk holds open and checked (walk_guard.open_scanned): its files are read through it."""

    __slots__ = ("dev", "fd")

    def __init__(self, fd: int, dev: int):
        self.fd, self.dev = fd, dev

    def fd_dev(self) -> tuple[int, int]:
        return self.fd, self.dev


class _Walked:
    """A directory a ContextWalk saw (`ino`, None when it did not stat it), opened from the root
    with no link followed when a file in it is first read (_Dirs)."""

    __slots__ = ("dirs", "ino", "rel")

    def __init__(self, dirs, rel: str, ino):
        self.dirs, self.rel, self.ino = dirs, rel, ino

    def fd_dev(self) -> tuple[int, int]:
        return self.dirs.open(self.rel, self.ino)


class _Dirs:
    """hash_walked's directories: the root opened once, one directory below it open at a time."""

    def __init__(self, root: str, pin=()):
        self.root, self.pin, self.root_fd, self.rel, self.fd, self.dev = root, pin, None, None, -1, 0

    def open(self, rel: str, ino) -> tuple[int, int]:
        if rel == self.rel:
            return self.fd, self.dev
        self.close_dir()
        if self.root_fd is None:
            self.root_fd = walk_guard.open_root(self.root, self.pin)
        if rel:
            parent, name = walk_guard.open_parent(self.root_fd, rel)
            try:
                fd = walk_guard.open_dir(name, parent, rel)
            finally:
                if parent != self.root_fd:
                    os.close(parent)
        else:
            fd = os.dup(self.root_fd)
        st = os.fstat(fd)
        if ino is not None and st.st_ino != ino:
            os.close(fd)
            raise walk_guard.ContextChanged(rel or self.root)
        self.rel, self.fd, self.dev = rel, fd, st.st_dev
        return fd, st.st_dev

    def close_dir(self) -> None:
        if self.rel is not None:
            os.close(self.fd)
            self.rel = None

    def close(self) -> None:
        self.close_dir()
        if self.root_fd is not None:
            os.close(self.root_fd)
            self.root_fd = None


def hash_context_sources(ctx, selected: list[str], cache: StatCache, with_mode: bool) -> list:
    """A list describing exactly what the selected context paths hold (symlinked sources
    followed, ignored entries left out), for the step's key. Each source's directories are
    opened following no link, each directory below it is read through its parent's fd and
    must be the one its parent's scan saw (walk_guard.py: ContextChanged otherwise)."""
    cache.preload(str(ctx.root))
    root = str(ctx.root)
    ignore = ctx.ignored if (ctx.patterns or ctx.excludes) else None
    out = []
    root_fd = walk_guard.open_root(root, getattr(ctx, "pin", ()))  # (the context's own directory)
    try:
        for named in selected:
            rel = ctx.resolve_links(named)
            if not rel:
                out.append([named, _entry(root_fd, ".", root, rel, os.fstat(root_fd), cache, with_mode, ignore)])
                continue
            fd, name = walk_guard.open_parent(root_fd, rel)
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                out.append([named, _entry(fd, name, os.path.join(root, rel), rel, st, cache, with_mode, ignore)])
            finally:
                if fd != root_fd:
                    os.close(fd)
    finally:
        os.close(root_fd)
    return out


def hash_walked(walk, cache: StatCache, with_mode: bool) -> list:
    """hash_context_sources' list, from the stat fields a fingerprint.ContextWalk saw (the
    context is not walked again): files whose fields match the stat cache are not read."""
    cache.preload(walk.root)
    cache.started = min(cache.started, walk.started)  # (the racy window counts from before the stat)
    opened = _Dirs(walk.root, walk.pin)
    try:
        return [[named, _walked_entry(walk.root, walk.entries, walk.entries[start], dirs, cache, with_mode, opened)]
                for named, (start, dirs) in zip(walk.selected, walk.bounds)]
    finally:
        opened.close()


def _walked_entry(root: str, entries: list, e: tuple, dirs: dict, cache: StatCache, with_mode: bool, opened):
    """_entry's shape for one walked entry (path, size, mtime_ns, ctime_ns, inode, mode[, target]).
    A directory's list is made before it is filled, and the directories still to fill wait on
    an explicit stack: a context nested a few thousand directories deep is no recursion."""
    rel, mode = e[0], e[5]
    if not stat.S_ISDIR(mode):
        return _walked_leaf(root, e, cache, with_mode, opened)
    hash_of, is_reg, is_dir, imode = cache.hash_of, stat.S_ISREG, stat.S_ISDIR, stat.S_IMODE
    top = ["d", imode(mode) if with_mode else None, []]
    todo = [(e, top[2])]
    while todo:
        e, out = todo.pop()
        rel = e[0]
        where = _Walked(opened, rel, e[4])
        prefix = os.path.join(root, rel) + "/" if rel else os.path.join(root, "")
        cut = len(rel) + 1 if rel else 0
        i, j = dirs[rel]
        for c in sorted(entries[i:j], key=_FIRST):  # (one directory's paths: sorted as its names)
            name = c[0][cut:]
            if is_reg(c[5]):  # (most entries)
                out.append([name, ["f", imode(c[5]) if with_mode else None, hash_of(prefix + name, c, where)]])
            elif is_dir(c[5]):
                children = []
                out.append([name, ["d", imode(c[5]) if with_mode else None, children]])
                todo.append((c, children))
            else:
                out.append([name, _walked_leaf(root, c, cache, with_mode, opened)])
    return top


def _walked_leaf(root: str, e: tuple, cache: StatCache, with_mode: bool, opened):
    rel, mode = e[0], e[5]
    if stat.S_ISLNK(mode):
        return ["l", e[6]]
    if stat.S_ISREG(mode):
        where = _Walked(opened, rel.rpartition("/")[0], None)
        return ["f", stat.S_IMODE(mode) if with_mode else None, cache.hash_of(os.path.join(root, rel), e, where)]
    return ["o", stat.S_IFMT(mode)]


def _entry(dir_fd: int, name: str, path: str, rel: str, st: os.stat_result, cache: StatCache, with_mode: bool,
           ignore):
    """The key's entry for `name` in the directory dir_fd (at `path`, `rel` in the context),
    whose lstat was st. Iterative (an explicit stack, as _walked_entry); each directory is
    opened through its parent's fd, which stays open only while some of its subdirectories
    wait: a chain of single directories holds two fds, not one per level."""
    mode = stat.S_IMODE(st.st_mode) if with_mode else None
    if stat.S_ISLNK(st.st_mode):
        return ["l", os.readlink(name, dir_fd=dir_fd)]
    if stat.S_ISREG(st.st_mode):
        return ["f", mode, cache.file_hash(path, st, _Opened(dir_fd, os.fstat(dir_fd).st_dev))]
    if not stat.S_ISDIR(st.st_mode):
        return ["o", stat.S_IFMT(st.st_mode)]
    top = ["d", mode, []]
    caller = [dir_fd, 1, False]  # (fd, subdirectories waiting on it, ours to close)
    todo = [(caller, name, path, rel, st, top[2])]
    held = []
    file_hash, is_reg, is_dir, is_lnk, imode = cache.file_hash, stat.S_ISREG, stat.S_ISDIR, stat.S_ISLNK, stat.S_IMODE
    try:
        while todo:
            parent, name, path, rel, st, children = todo.pop()
            fd = walk_guard.open_scanned(name, parent[0], st.st_dev, st.st_ino)
            here = [fd, 0, True]
            held.append(here)
            parent[1] -= 1
            if parent[1] == 0 and parent[2]:
                os.close(parent[0])
                parent[2] = False
            with os.scandir(fd) as it:
                entries = sorted(it, key=_NAME)
            prefix, where = path + "/", _Opened(fd, st.st_dev)
            for e in entries:
                name = e.name
                child = f"{rel}/{name}" if rel else name
                if ignore is not None and ignore(child):
                    continue
                est = e.stat(follow_symlinks=False)
                if is_reg(est.st_mode):  # (most entries)
                    children.append([name, ["f", imode(est.st_mode) if with_mode else None,
                                            file_hash(prefix + name, est, where)]])
                elif is_dir(est.st_mode):
                    sub = []
                    children.append([name, ["d", imode(est.st_mode) if with_mode else None, sub]])
                    todo.append((here, name, prefix + name, child, est, sub))
                    here[1] += 1
                elif is_lnk(est.st_mode):
                    children.append([name, ["l", os.readlink(name, dir_fd=fd)]])
                else:
                    children.append([name, ["o", stat.S_IFMT(est.st_mode)]])
            if here[1] == 0:
                os.close(fd)
                here[2] = False
            if len(held) > 64:
                held = [h for h in held if h[2]]
    finally:
        for h in held:
            if h[2]:
                os.close(h[0])
    return top
