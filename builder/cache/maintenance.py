"""`cairn cache du | ls | prune`: what the cache holds, and dropping it least recently used
first. Dropping a record never removes a layer an image needs: layers go only through the
store's prune, which keeps everything images reference."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from ..store import cache_table
from ..store.maintenance import prune as prune_store
from ..store.store import Store


@dataclass(frozen=True)
class Entry:
    key: str
    kind: str
    size: int
    created: float
    last_used: float
    summary: str


def entries(store: Store) -> list[Entry]:
    out = []
    for row in cache_table.all_rows(store):
        step = json.loads(row.inputs).get("step", {})
        kind = next((k for k in ("RUN", "COPY", "ADD", "WORKDIR") if k in step), "OTHER")
        summary = step.get("RUN") or step.get("dest") or step.get("WORKDIR") or ""
        if isinstance(summary, list):
            summary = " ".join(summary)
        out.append(Entry(row.key, kind, row.size, row.created, row.last_used, str(summary)))
    return out


def usage(store: Store) -> dict[str, int]:
    by_kind: dict[str, int] = {}
    for e in entries(store):
        by_kind[e.kind] = by_kind.get(e.kind, 0) + e.size
    by_kind["total"] = sum(v for k, v in by_kind.items())
    return by_kind


def prune(store: Store, keep_storage: int | None = None, prune_all: bool = False,
          older_than: float | None = None) -> tuple[int, int]:
    """Drop records (least recently used first); returns (records dropped, bytes freed)."""
    items = sorted(entries(store), key=lambda e: e.last_used)
    total = sum(e.size for e in items)
    doomed = []
    now = time.time()
    for e in items:
        if prune_all or (older_than is not None and now - e.last_used > older_than) or \
                (keep_storage is not None and total > keep_storage):
            doomed.append(e.key)
            total -= e.size
    if not (prune_all or older_than is not None or keep_storage is not None):
        return 0, 0
    cache_table.delete(store, doomed)
    freed = prune_store(store).bytes
    return len(doomed), freed
