"""The store's `snapshot_files` table: for a snapshot a COPY from the build context made, the
content hash (xxh3-128, as the stat cache has it) and inode of each regular file it wrote,
by layer-relative path. An incremental COPY (executor/copy_reuse.py) reads it to know which
files of an earlier snapshot it may hard-link instead of copying.

A row is keyed by diff_id, so it stays true of any snapshot with that diff_id: the same
diff_id is the same tar, so the same bytes at every path (an inode number is only a hint
that the file is the one the hash was taken of; a snapshot made again has other inodes, and
then nothing is linked). The only SQL on this table."""

from __future__ import annotations

import os

SCHEMA = "CREATE TABLE IF NOT EXISTS snapshot_files (diff_id TEXT PRIMARY KEY, files BLOB NOT NULL)"


def encode(files: dict[str, tuple[str, int]]) -> bytes:
    """path NUL hash NUL inode NUL, for each file (a name never holds NUL)."""
    return b"".join(b"%s\0%s\0%d\0" % (os.fsencode(p), h.encode(), ino) for p, (h, ino) in files.items())


def decode(data: bytes) -> dict[str, tuple[str, int]]:
    parts = data.split(b"\0")
    out = {}
    for i in range(0, len(parts) - 2, 3):
        out[os.fsdecode(parts[i])] = (parts[i + 1].decode(), int(parts[i + 2]))
    return out


def get(store, diff_id: str) -> dict[str, tuple[str, int]] | None:
    row = store.conn.execute("SELECT files FROM snapshot_files WHERE diff_id=?", (diff_id,)).fetchone()
    return decode(row[0]) if row else None


def put(store, diff_id: str, files: dict[str, tuple[str, int]]) -> None:
    """Record the files of a snapshot just committed (a row already there is kept: it speaks
    of the directory that is in place, which may be another process's)."""
    data = encode(files)
    with store.transaction() as c:
        c.execute("INSERT OR IGNORE INTO snapshot_files(diff_id, files) VALUES (?,?)", (diff_id, data))


def listed(store) -> list[str]:
    """The diff_ids that have a file list."""
    return [r[0] for r in store.conn.execute("SELECT diff_id FROM snapshot_files ORDER BY diff_id")]


def forget_unrecorded(conn) -> None:
    """(In prune's transaction) drop the rows of snapshots that are no longer recorded."""
    conn.execute("DELETE FROM snapshot_files WHERE diff_id NOT IN (SELECT diff_id FROM snapshots)")
