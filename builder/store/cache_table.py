"""The store's `cache_records` table: one row per step key, holding the inputs the key was
made from, the layer the step made (its diff_id, or EMPTY when it made none), its size,
when it was made and last used, and the step's position in its Dockerfile.

The only SQL on this table; what a record means (a hit, a missing layer, an explanation)
is decided in builder/cache/."""

from __future__ import annotations

import json
import time

from runtime.record import Record, record

from .store import Store

EMPTY = "empty"  # diff_id value of a record whose step made no layer


@record
class Row(Record):
    key: str
    parent: str
    inputs: str       # canonical JSON
    diff_id: str | None
    size: int
    created: float
    last_used: float
    position: str


_COLUMNS = "key, parent, inputs, diff_id, size, created, last_used, position"


def _row(values) -> Row:
    key, parent, inputs, diff_id, size, created, last_used, position = values
    return Row(key, parent or "", inputs, diff_id, size or 0, created or 0.0, last_used or 0.0, position or "")


def get(store: Store, key: str) -> Row | None:
    values = store.conn.execute(f"SELECT {_COLUMNS} FROM cache_records WHERE key=?", (key,)).fetchone()
    return _row(values) if values else None


def all_rows(store: Store) -> list[Row]:
    """Every record, most recently used first."""
    return [_row(v) for v in store.conn.execute(f"SELECT {_COLUMNS} FROM cache_records ORDER BY last_used DESC")]


def latest_inputs_at(store: Store, position: str, other_than: str) -> dict | None:
    """The inputs of the most recently used record at `position` whose key is not `other_than`."""
    row = store.conn.execute(
        "SELECT inputs FROM cache_records WHERE position=? AND key!=? ORDER BY last_used DESC LIMIT 1",
        (position, other_than)).fetchone()
    return json.loads(row[0]) if row else None


def layers_at(store: Store, position: str, other_than: str, limit: int = 3) -> list[str]:
    """The diff_ids of the most recently used records at `position` (key not `other_than`) that made a layer."""
    rows = store.conn.execute(
        "SELECT diff_id FROM cache_records WHERE position=? AND key!=? AND diff_id IS NOT NULL AND diff_id!=? "
        "ORDER BY last_used DESC LIMIT ?", (position, other_than, EMPTY, limit))
    return [r[0] for r in rows]


def touch(store: Store, key: str) -> None:
    touch_many(store, [key])


def touch_many(store: Store, keys: list[str]) -> None:
    """Set the last use of these records to now, in one transaction."""
    now = time.time()
    with store.transaction() as c:
        c.executemany("UPDATE cache_records SET last_used=? WHERE key=?", [(now, k) for k in keys])


def put(store: Store, key: str, parent: str, inputs: str, diff_id: str, size: int, created: float,
        position: str) -> None:
    """Insert the record of `key`, or replace its layer (and, for a layer, its size, time and position)."""
    now = time.time()
    update = "diff_id=excluded.diff_id, last_used=excluded.last_used"
    if diff_id != EMPTY:
        update += ", size=excluded.size, created=excluded.created, position=excluded.position"
    with store.transaction() as c:
        c.execute("INSERT INTO cache_records(key, parent, inputs, diff_id, config_delta, size, created, last_used, "
                  f"position) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(key) DO UPDATE SET {update}",
                  (key, parent, inputs, diff_id, None, size, created, now, position))


def delete(store: Store, keys: list[str]) -> None:
    """Delete the records of `keys`, and the step memo's rows that name them (store/memo_table.py)."""
    with store.transaction() as c:
        c.executemany("DELETE FROM cache_records WHERE key=?", [(k,) for k in keys])
        c.executemany("DELETE FROM step_memo WHERE key=?", [(k,) for k in keys])
