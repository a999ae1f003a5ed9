"""The local store: one root directory shared by every cairn process on the machine.

    <root>/blobs/sha256/<hex>   content-addressed blobs (builder.store.blobs)
    <root>/snapshots/<hex>      unpacked layers in overlay format, named by diff_id
    <root>/tmp/                 temp files and half-made snapshots, renamed when complete
    <root>/leases/<id>          what a live process uses: prune keeps it (builder.store.leases)
    <root>/cairn.db             SQLite (WAL): images, tags, layers, cache, stat cache
    <root>/lock                 flock: shared while adding, exclusive while pruning
    <root>/init.lock            flock: held while a process opens the database

The root and its directories are 0700, the database and lock files 0600, tightened
when a store made by an older cairn is opened.

Writers add blobs and snapshots first and then record them in one transaction, so a
crash leaves at most unreferenced files, which `prune` removes; a record never points
at something missing.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ..image.digest import Digest
from . import db
from .blobs import BlobStore
from .layout import PRIVATE_DIRS, PRIVATE_FILES, StoreLayout
from .leases import Lease, live_leases
from .tmpnames import make_dir


def _make_private(root: Path) -> None:
    """Create the store's directories 0700, and tighten those an older cairn made 0755."""
    for name in PRIVATE_DIRS:
        (root / name).mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(root, PRIVATE_DIRS, 0o700)


def _tighten(root: Path, names, mode: int) -> None:
    for name in names:
        path = root / name
        try:
            if os.stat(path).st_mode & 0o777 & ~mode:
                os.chmod(path, mode)
        except FileNotFoundError:
            pass
        except PermissionError:
            pass  # another user's store, opened read-only: not ours to change


class Store:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.layout = StoreLayout(self.root)
        self.tmp_dir = self.layout.tmp
        self.snapshots_dir = self.layout.snapshots
        _make_private(self.root)
        self.lease = Lease(self.layout.leases)
        self.blobs = BlobStore(self.layout.blobs, self.tmp_dir, f"{self.lease.id}.")
        self._tx_lock = threading.RLock()
        self._adding_lock = threading.Lock()
        self._adding_depth = 0
        self._lock_fd = os.open(self.layout.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # made 0600 before SQLite opens it: its -wal and -shm files take the same mode
        os.close(os.open(self.layout.database, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        self.conn = db.connect_current(self.layout.database)  # an up-to-date store: reads only
        if self.conn is None:
            # Switching to WAL and creating tables need the database to themselves; two
            # processes opening a new store at once would otherwise see "database is locked".
            init_fd = os.open(self.layout.init_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(init_fd, fcntl.LOCK_EX)
                self.conn = db.connect(self.layout.database)
            finally:
                os.close(init_fd)
        _tighten(self.root, PRIVATE_FILES, 0o600)

    def close(self) -> None:
        self.conn.close()
        os.close(self._lock_fd)
        self.lease.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- locking ------------------------------------------------------------------------
    @contextmanager
    def adding(self):
        """Held while blobs or snapshots are written and recorded (many at once). Nests, also
        across the threads of one process: the lock goes when the last holder leaves."""
        with self._adding_lock:
            if self._adding_depth == 0:
                fcntl.flock(self._lock_fd, fcntl.LOCK_SH)
            self._adding_depth += 1
        try:
            yield
        finally:
            with self._adding_lock:
                self._adding_depth -= 1
                if self._adding_depth == 0:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @contextmanager
    def exclusive(self):
        """Held while deleting unreferenced files, so nothing half-recorded is removed."""
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @contextmanager
    def transaction(self):
        """One write transaction at a time per Store (threads of one build share it)."""
        with self._tx_lock:
            with db.transaction(self.conn) as conn:
                yield conn

    # -- snapshots ----------------------------------------------------------------------
    def snapshot_path(self, diff_id: Digest) -> Path:
        return self.snapshots_dir / diff_id.hex

    def has_snapshot(self, diff_id: Digest) -> bool:
        row = self.conn.execute("SELECT 1 FROM snapshots WHERE diff_id=?", (str(diff_id),)).fetchone()
        return row is not None and self.snapshot_path(diff_id).is_dir()

    def new_tmp_dir(self, prefix: str = "snap-") -> Path:
        """A temp directory that prune leaves alone while this process lives."""
        return Path(make_dir(self.tmp_dir, f"{self.lease.id}.{prefix}"))

    def lease_snapshots(self, diff_ids) -> None:
        """Keep these snapshots from prune while this process (or a fork of it) lives; taken
        under the shared lock, so a prune that runs from now on sees the lease."""
        with self.adding():
            self.lease.add(diff_ids)

    def remove_orphaned_tmp(self) -> None:
        """Remove the temp entries of cairn processes that are gone (killed with -9): those
        named after a lease nobody holds any more (a build does this; prune does it too)."""
        live = live_leases(self.layout.leases)
        for entry in os.listdir(self.tmp_dir):
            if "." in entry and not live.owns_tmp(entry):
                remove_tree(self.tmp_dir / entry)

    def commit_snapshot(self, tmp: Path, diff_id: Digest, size: int, epoch: int | None = None) -> Path:
        """Move a complete snapshot into place under its diff_id and record it (leased first:
        no prune may take it before a cache record or an image refers to it), with the
        SOURCE_DATE_EPOCH its tar was hashed with: the tar is written again with the same one."""
        self.lease_snapshots([diff_id])
        final = self.snapshot_path(diff_id)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            remove_tree(tmp)  # another process made the same snapshot first
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO snapshots(diff_id, size, added, epoch) VALUES (?,?,?,?)",
                      (str(diff_id), size, time.time(), epoch))
        return final

    def tar_format(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key='tar_format'").fetchone()
        return int(row[0]) if row else 0

    def snapshot_epoch(self, diff_id: Digest) -> int | None:
        """The SOURCE_DATE_EPOCH the snapshot's tar was first written with (None: none)."""
        row = self.conn.execute("SELECT epoch FROM snapshots WHERE diff_id=?", (str(diff_id),)).fetchone()
        return row[0] if row else None

    def snapshot_size(self, diff_id: Digest) -> int | None:
        row = self.conn.execute("SELECT size FROM snapshots WHERE diff_id=?", (str(diff_id),)).fetchone()
        return row[0] if row else None

    # -- layer blobs --------------------------------------------------------------------
    def record_layer_blob(self, diff_id: Digest, blob: Digest, media_type: str, size: int,
                          verified: bool = False) -> None:
        """Record that `blob` is a tar (compressed as `media_type` says) of the layer `diff_id`.

        A push sends this blob for every image that holds the layer, so unless the caller
        has just made the blob from the layer or checked it (`verified`), it is
        decompressed and hashed here first; LayerMismatch if it is another layer."""
        if not verified:
            from .layer_check import check_layer_blob

            check_layer_blob(self, diff_id, blob, media_type)
        with self.transaction() as c:
            c.execute("INSERT INTO layer_blobs(diff_id, blob, media_type, size, verified) VALUES (?,?,?,?,1) "
                      "ON CONFLICT(diff_id, blob) DO UPDATE SET verified=1",
                      (str(diff_id), str(blob), media_type, size))

    def layer_blobs(self, diff_id: Digest) -> list[tuple[Digest, str, int]]:
        """The stored blobs known to hold the layer `diff_id`. A record written before
        records were checked is checked on first use, and forgotten if it is wrong."""
        rows = self.conn.execute("SELECT blob, media_type, size, verified FROM layer_blobs WHERE diff_id=?",
                                 (str(diff_id),)).fetchall()
        out = []
        for b, mt, size, verified in rows:
            blob = Digest.parse(b)
            if not self.blobs.has(blob):
                continue
            if not verified and not self._check_old_record(diff_id, blob, mt):
                continue
            out.append((blob, mt, size))
        return out

    def forget_layer_blob(self, diff_id: Digest, blob: Digest) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM layer_blobs WHERE diff_id=? AND blob=?", (str(diff_id), str(blob)))

    def _check_old_record(self, diff_id: Digest, blob: Digest, media_type: str) -> bool:
        from ..errors import CairnError
        from .layer_check import check_layer_blob

        try:
            check_layer_blob(self, diff_id, blob, media_type)
        except CairnError:
            with self.transaction() as c:
                c.execute("DELETE FROM layer_blobs WHERE diff_id=? AND blob=?", (str(diff_id), str(blob)))
            return False
        with self.transaction() as c:
            c.execute("UPDATE layer_blobs SET verified=1 WHERE diff_id=? AND blob=?", (str(diff_id), str(blob)))
        return True

def remove_tree(path: Path) -> None:
    """Remove a directory tree, including read-only directories and device nodes (or a file)."""
    if path.is_symlink() or not path.is_dir():
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        return
    if _remove_shallow(path):
        return
    from runtime.remove import remove_all  # (any depth, no recursion: shutil.rmtree recursed per level)

    remove_all(path)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _empty_dir(fd: int, depth: int) -> None:
    """Remove what the directory `fd` holds, directories `depth` levels down at most (OSError,
    ENOTEMPTY, below that)."""
    with os.scandir(fd) as it:
        entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    for name, is_dir in entries:
        if not is_dir:
            os.unlink(name, dir_fd=fd)
            continue
        if depth > 0:
            sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
            try:
                _empty_dir(sub, depth - 1)
            finally:
                os.close(sub)
        os.rmdir(name, dir_fd=fd)


_SHALLOW = 4  # levels below the removed directory: a container's upper/etc/hosts is 2


def _remove_shallow(path: Path) -> bool:
    """Remove a directory at most _SHALLOW levels deep (a RUN step's scratch directories, a
    `run --rm` container's directory) without loading shutil; False when anything is left (a
    deeper tree, a read-only or unreadable directory): runtime.remove removes the rest. Each
    directory is opened under its parent's fd without following a link, its entries removed
    by name under its own fd; the recursion is bounded by _SHALLOW."""
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError:
        return False
    try:
        _empty_dir(fd, _SHALLOW)
    except OSError:
        return False
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError:
        return False
    return True
