"""Incremental COPY: a COPY from the build context that misses because some files changed
makes its snapshot from the nearest earlier snapshot of the same step. Each file that is
unchanged is hard-linked from that snapshot (which is immutable); only the others are copied.

A file is linked only when everything its tar entry holds is known to be equal, so that the
layer's bytes are those of a copy made from scratch:
- content: the earlier snapshot's file list (store/snapshot_files) names the same content
  hash at the same layer path, on the inode standing there, as the stat cache (which the
  step's key was made from) gives for the source file as it is now;
- type, size, permission bits, owner and mtime: read from the earlier file, each equal to
  what the copy would set (--chmod, --chown, SOURCE_DATE_EPOCH's clamp included).
Nothing else of the earlier snapshot is trusted: its directories are walked without
following a link, and no inode is linked twice into one snapshot (the tar writer makes a
hard-link entry only for a second path to the same inode, which therefore never happens).

Every copy also records the content hash of what it wrote (when the source did not change
while it was copied), so the next edit finds it. Linking never writes to the earlier
snapshot's files: the new snapshot's entries are new names for the same immutable inodes;
a RUN on top changes them in its own upper directory (overlayfs copies up)."""

from __future__ import annotations

import os
import stat

from runtime import tree

_BASES_TRIED = 3  # the most recently used layers of the step's position that are looked at
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Reuse:
    """What one COPY's fill needs to link from `base` (a snapshot directory, or None) and to
    record the hashes of the new snapshot's files (`files`)."""

    def __init__(self, hashes: dict, base: str | None = None, base_files: dict | None = None,
                 epoch: int | None = None):
        self.hashes = hashes  # the build's stat cache rows: path -> (path, size, mtime_ns, ctime_ns, ino, mode, hash)
        self.base = base
        self.base_files = base_files or {}
        self.limit = None if epoch is None else epoch * 1_000_000_000
        self.files: dict[str, tuple[str, int]] = {}
        self.linked_inodes: set[int] = set()
        self.linked = self.copied = 0
        self._dir_path: str | None = None
        self._dir_fd = -1

    def close(self) -> None:
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1

    def _hash(self, path: str, st: os.stat_result) -> str | None:
        """The content hash the stat cache holds for the context file `path` as `st` shows it."""
        row = self.hashes.get(path)
        if (row is not None and row[1] == st.st_size and row[2] == st.st_mtime_ns and row[3] == st.st_ctime_ns
                and row[4] == st.st_ino and row[5] == st.st_mode):
            return row[6]
        return None

    def _base_dir(self, parent: str) -> int:
        """An fd of the base snapshot's directory `parent` (layer-relative), or -1; no link followed."""
        if parent == self._dir_path:
            return self._dir_fd
        self.close()
        self._dir_path = parent
        try:
            fd = os.open(self.base, _DIR)
            for part in [p for p in parent.split("/") if p]:
                try:
                    nxt = os.open(part, _DIR, dir_fd=fd)
                finally:
                    os.close(fd)
                fd = nxt
        except OSError:
            return -1
        self._dir_fd = fd
        return fd

    def mtime(self, mtime_ns: int) -> int:
        return mtime_ns if self.limit is None or mtime_ns <= self.limit else self.limit

    def link(self, source, rel: str, st: os.stat_result, dir_fd: int, name: str, at: str,
             mode: int, owner: tuple[int, int]) -> bool:
        """Hard-link the base snapshot's file at layer path `at` as `name` in dir_fd when it is
        exactly what copying the source file `rel` (lstat `st`) would write; False otherwise."""
        self.files.pop(at, None)
        if self.base is None:
            return False
        known = self.base_files.get(at)
        if known is None:
            return False
        digest = self._hash(os.path.join(source.root, rel), st)
        if digest is None or digest != known[0]:
            return False
        parent, _, base_name = at.rpartition("/")
        bfd = self._base_dir(parent)
        if bfd < 0:
            return False
        try:
            bst = os.stat(base_name, dir_fd=bfd, follow_symlinks=False)
        except OSError:
            return False
        if (not stat.S_ISREG(bst.st_mode) or bst.st_ino != known[1] or bst.st_ino in self.linked_inodes
                or bst.st_size != st.st_size or stat.S_IMODE(bst.st_mode) != mode
                or (bst.st_uid, bst.st_gid) != owner or bst.st_mtime_ns != self.mtime(st.st_mtime_ns)):
            return False
        try:
            tree.hardlink(bfd, base_name, dir_fd, name)
        except OSError:
            return False  # (another filesystem, a link limit): copied instead
        self.linked_inodes.add(bst.st_ino)
        self.files[at] = (digest, bst.st_ino)
        self.linked += 1
        return True

    def copied_file(self, source, rel: str, st: os.stat_result, src_fd: int, dir_fd: int, name: str,
                    at: str) -> None:
        """Note the file just copied from `rel` to `at`: its hash, if the source stayed as `st` showed it."""
        self.copied += 1
        digest = self._hash(os.path.join(source.root, rel), st)
        after = os.fstat(src_fd)
        if digest is None or (after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino) != \
                (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino):
            return
        self.files[at] = (digest, os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_ino)

    def replaced(self, at: str) -> None:
        """Something other than a tracked regular file now stands at `at`."""
        self.files.pop(at, None)

    def record(self, store, diff_id: str) -> None:
        """Keep the hashes of the snapshot just committed as `diff_id`, for the next edit."""
        from ..store import snapshot_files

        snapshot_files.put(store, diff_id, self.files)


def for_step(store, state) -> Reuse | None:
    """A Reuse for the COPY step the stage is at: linking from the nearest earlier snapshot of
    the same step position that has its file list (leased: no prune takes it meanwhile)."""
    from ..image.digest import Digest
    from ..store import cache_table, snapshot_files

    stat_cache = getattr(state, "stat_cache", None)
    if stat_cache is None:
        return None
    position = getattr(state, "position", "")
    for diff_id in cache_table.layers_at(store, position, "", _BASES_TRIED) if position else ():
        digest = Digest.parse(diff_id)
        files = snapshot_files.get(store, diff_id)
        if files is None:
            continue
        store.lease_snapshots([digest])
        if store.has_snapshot(digest):
            return Reuse(stat_cache.known, str(store.snapshot_path(digest)), files, state.epoch)
    return Reuse(stat_cache.known, epoch=state.epoch)
