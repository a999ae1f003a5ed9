"""The store's SQLite database (WAL): images, tags, layers, snapshots, cache records, stat cache.

Several cairn processes share one database; each change is one transaction, so a process
killed at any point leaves either all of a change or none of it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import CairnError

SCHEMA_VERSION = 1
# PRAGMA user_version once every step of _migrate below has run: an open that finds it (and
# the schema not newer) reads two values and writes nothing. Bump it with each new step.
LAYOUT_VERSION = 2  # 2: the build_memo table

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    manifest TEXT PRIMARY KEY,          -- manifest digest: the image's identity in the store
    config TEXT NOT NULL,               -- config digest: docker's "image ID"
    size INTEGER NOT NULL,              -- sum of the layers' uncompressed sizes
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS image_layers (
    manifest TEXT NOT NULL REFERENCES images(manifest) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    diff_id TEXT NOT NULL,
    blob TEXT NOT NULL,                 -- the manifest's layer descriptor digest
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (manifest, position)
);
CREATE INDEX IF NOT EXISTS image_layers_diff_id ON image_layers(diff_id);
CREATE INDEX IF NOT EXISTS image_layers_blob ON image_layers(blob);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT PRIMARY KEY,              -- normalised reference: docker.io/library/busybox:latest
    manifest TEXT NOT NULL REFERENCES images(manifest)
);
CREATE TABLE IF NOT EXISTS snapshots (
    diff_id TEXT PRIMARY KEY,           -- snapshots/<hex> holds the unpacked layer
    size INTEGER NOT NULL,              -- its uncompressed tar size
    added REAL NOT NULL,
    epoch INTEGER                       -- SOURCE_DATE_EPOCH its tar was written with (NULL: none)
);
CREATE TABLE IF NOT EXISTS layer_blobs (  -- compressed (or plain) blobs known for a diff_id
    diff_id TEXT NOT NULL,
    blob TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    verified INTEGER NOT NULL DEFAULT 0,  -- 1: the blob was checked to uncompress to diff_id
    PRIMARY KEY (diff_id, blob)
);
CREATE TABLE IF NOT EXISTS cache_records (
    key TEXT PRIMARY KEY,
    parent TEXT,
    inputs TEXT NOT NULL,               -- canonical JSON of what the key was made from
    diff_id TEXT,
    config_delta TEXT,
    size INTEGER,
    created REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS blob_locations (  -- registry repositories known to hold a blob
    blob TEXT NOT NULL,
    repository TEXT NOT NULL,           -- docker.io/library/busybox
    seen REAL NOT NULL,
    PRIMARY KEY (blob, repository)
);
CREATE TABLE IF NOT EXISTS remote_layers (  -- layers known by descriptor only: their blob is in a registry
    diff_id TEXT NOT NULL,              -- (blob_locations says which repositories hold it)
    blob TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (diff_id, blob)
);
CREATE TABLE IF NOT EXISTS stat_cache (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS step_memo (  -- a step's input fingerprint -> its key (store/memo_table.py)
    position TEXT PRIMARY KEY,          -- context:Dockerfile:stage:index (one row each)
    fingerprint TEXT NOT NULL,          -- sha256 of the step's inputs, told by stat
    key TEXT NOT NULL                   -- the cache key those inputs made
);
CREATE INDEX IF NOT EXISTS step_memo_key ON step_memo(key);
"""


class StoreDatabaseError(CairnError):
    """The store's database is not one cairn can use: corrupt, truncated, or from a newer cairn."""


def unusable(path, err: Exception) -> StoreDatabaseError:
    return StoreDatabaseError(f"the store's database {path} cannot be used: {err} (if it is corrupt, move it "
                              f"away: cairn then starts an empty one)")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as err:
        conn.close()
        raise unusable(path, err) from None
    return conn


def connect_current(path: Path) -> sqlite3.Connection | None:
    """A connection to a database every migration has run on (read, no write transaction, no
    lock file), or None when connect() must run, holding the store's init lock."""
    conn = _connect(path)
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] == LAYOUT_VERSION:
            _check_schema(conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone())
            return conn
    except sqlite3.DatabaseError as err:
        conn.close()
        raise unusable(path, err) from None
    conn.close()
    return None


def connect(path: Path) -> sqlite3.Connection:
    """Switch the database to WAL and run every migration it lacks (one write transaction)."""
    conn = _connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        _migrate(conn)
    except sqlite3.DatabaseError as err:
        conn.close()
        raise unusable(path, err) from None
    return conn


def _check_schema(row) -> None:
    if row is None:
        raise sqlite3.DatabaseError("it has no schema version")
    if not str(row[0]).isdigit() or int(row[0]) > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"it was written by a newer cairn (schema {row[0]})")


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        if conn.execute("SELECT 1 FROM meta WHERE key='tar_format'").fetchone() is None:  # a new store
            from ..layers.tarstream import TAR_FORMAT

            conn.execute("INSERT INTO meta(key, value) VALUES ('tar_format', ?)", (str(TAR_FORMAT),))
        columns = {r[1] for r in conn.execute("PRAGMA table_info(cache_records)")}
        if "position" not in columns:
            conn.execute("ALTER TABLE cache_records ADD COLUMN position TEXT")
        if "epoch" not in {r[1] for r in conn.execute("PRAGMA table_info(snapshots)")}:
            conn.execute("ALTER TABLE snapshots ADD COLUMN epoch INTEGER")
        if "verified" not in {r[1] for r in conn.execute("PRAGMA table_info(layer_blobs)")}:
            conn.execute("ALTER TABLE layer_blobs ADD COLUMN verified INTEGER NOT NULL DEFAULT 0")
        conn.execute("CREATE INDEX IF NOT EXISTS cache_records_position ON cache_records(position)")
        from .history_table import SCHEMA as HISTORY  # (a store from before build history gets the table)

        conn.execute(HISTORY)
        from .snapshot_files import SCHEMA as SNAPSHOT_FILES

        conn.execute(SNAPSHOT_FILES)
        from .build_memo_table import SCHEMA as BUILD_MEMO

        conn.execute(BUILD_MEMO)
        row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            conn.execute("INSERT INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        else:
            _check_schema(row)
        if conn.execute("PRAGMA user_version").fetchone()[0] < LAYOUT_VERSION:  # (never lowered: a
            conn.execute(f"PRAGMA user_version = {LAYOUT_VERSION}")  # newer cairn's stays its own)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class transaction:
    """`with transaction(conn):` BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
