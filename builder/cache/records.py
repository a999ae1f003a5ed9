"""Cache records in the store's database: key -> the layer a step produced, with the
inputs the key was made from. A record is used only if its layer is still available."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..digest import Digest
from ..store.store import Store
from .keys import canonical


@dataclass(frozen=True)
class Missing:
    """A record whose layer is gone (pruned, lost, or deleted by hand): rebuild, and say so."""

    diff_id: str


def lookup(store: Store, key: str) -> "tuple[Digest, int] | Missing | None":
    row = store.conn.execute("SELECT diff_id, size FROM cache_records WHERE key=?", (key,)).fetchone()
    if row is None or row[0] is None:
        return None
    diff_id = Digest.parse(row[0])
    if not (store.has_snapshot(diff_id) or store.layer_blobs(diff_id)):
        return Missing(row[0])
    with store.transaction() as c:
        c.execute("UPDATE cache_records SET last_used=? WHERE key=?", (time.time(), key))
    return diff_id, row[1] or 0


def record(store: Store, key: str, parent: str, inputs: dict, diff_id: Digest, size: int,
           position: str = "") -> None:
    now = time.time()
    with store.transaction() as c:
        c.execute("INSERT INTO cache_records(key, parent, inputs, diff_id, config_delta, size, created, last_used, "
                  "position) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(key) DO UPDATE SET diff_id=excluded.diff_id, "
                  "size=excluded.size, last_used=excluded.last_used, position=excluded.position",
                  (key, parent, canonical(inputs), str(diff_id), None, size, now, now, position))
