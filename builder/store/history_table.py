"""The store's `build_history` table: one row per finished build (when it started, its
Dockerfile and context, how long it took, the image digest, hits, misses, and each step's
record as --metadata-file writes it). The only SQL on this table; what a row means
(listing, showing, comparing two builds, pruning with the cache) is builder/cache/history.py."""

from __future__ import annotations

import json

from runtime.record import Record, record

from .store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS build_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    dockerfile TEXT NOT NULL,
    context TEXT NOT NULL,
    seconds REAL NOT NULL,
    digest TEXT NOT NULL,
    hits INTEGER NOT NULL,
    misses INTEGER NOT NULL,
    steps TEXT NOT NULL
)"""


@record
class Build(Record):
    id: int
    started: float
    dockerfile: str
    context: str
    seconds: float
    digest: str
    hits: int
    misses: int
    steps: list  # each step as --metadata-file writes it


_COLUMNS = "id, started, dockerfile, context, seconds, digest, hits, misses, steps"


def _build(values) -> Build:
    *head, steps = values
    return Build(*head, json.loads(steps))


def add(store: Store, started: float, dockerfile: str, context: str, seconds: float, digest: str, hits: int,
        misses: int, steps: list) -> int:
    with store.transaction() as c:
        cur = c.execute("INSERT INTO build_history(started, dockerfile, context, seconds, digest, hits, misses, steps) "
                        "VALUES (?,?,?,?,?,?,?,?)",
                        (started, dockerfile, context, seconds, digest, hits, misses, json.dumps(steps)))
        return cur.lastrowid


def all_builds(store: Store) -> list[Build]:
    """Every recorded build, the newest first."""
    return [_build(v) for v in store.conn.execute(f"SELECT {_COLUMNS} FROM build_history ORDER BY id DESC")]


def get(store: Store, build_id: int) -> Build | None:
    values = store.conn.execute(f"SELECT {_COLUMNS} FROM build_history WHERE id=?", (build_id,)).fetchone()
    return _build(values) if values else None


def delete(store: Store, ids: list[int]) -> None:
    with store.transaction() as c:
        c.executemany("DELETE FROM build_history WHERE id=?", [(i,) for i in ids])
