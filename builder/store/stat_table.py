"""The store's `stat_cache` table: for each file path that was hashed, the stat fields
(size, mtime_ns, ctime_ns, inode, mode) it had then and its content hash. The only SQL
on this table; builder/cache/sources.py decides when a row may stand for the file."""

from __future__ import annotations

from .store import Store


def rows_under(store: Store, prefix: str):
    """(path, size, mtime_ns, ctime_ns, inode, mode, hash) of every path starting with `prefix` (ending in '/')."""
    return store.conn.execute("SELECT path, size, mtime_ns, ctime_ns, inode, mode, hash FROM stat_cache "
                              "WHERE path >= ? AND path < ?", (prefix, prefix[:-1] + "0"))


def row_of(store: Store, path: str) -> tuple | None:
    """(path, size, mtime_ns, ctime_ns, inode, mode, hash) of `path`, or None."""
    return store.conn.execute("SELECT path, size, mtime_ns, ctime_ns, inode, mode, hash FROM stat_cache WHERE path=?",
                              (path,)).fetchone()


def put_many(store: Store, rows: list[tuple]) -> None:
    """Insert or replace rows of (path, size, mtime_ns, ctime_ns, inode, mode, hash)."""
    with store.transaction() as c:
        c.executemany("INSERT INTO stat_cache(path, size, mtime_ns, ctime_ns, inode, mode, hash) "
                      "VALUES (?,?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET size=excluded.size, "
                      "mtime_ns=excluded.mtime_ns, ctime_ns=excluded.ctime_ns, inode=excluded.inode, "
                      "mode=excluded.mode, hash=excluded.hash", rows)
