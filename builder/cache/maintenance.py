"""`cairn cache du | ls | prune`: what the cache holds, and dropping it least recently used
first. Dropping a record never removes a layer an image needs: layers go only through the
store's prune, which keeps everything images reference."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from ..store import cache_mounts, cache_table
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


def mounts(store: Store) -> list[cache_mounts.CacheMount]:
    """The RUN --mount=type=cache directories, most recently used first."""
    return cache_mounts.list_mounts(str(store.layout.cache_mounts))


def usage(store: Store) -> dict[str, int]:
    by_kind: dict[str, int] = {}
    for e in entries(store):
        by_kind[e.kind] = by_kind.get(e.kind, 0) + e.size
    for m in mounts(store):
        by_kind["MOUNT"] = by_kind.get("MOUNT", 0) + m.size
    by_kind["total"] = sum(v for k, v in by_kind.items())
    return by_kind


def prune_mounts(store: Store, prune_all: bool, older_than: float | None) -> tuple[int, int]:
    """Remove cache mount directories (all, or those not used for `older_than` seconds);
    returns (directories removed, bytes freed)."""
    now = time.time()
    doomed = [m for m in mounts(store) if prune_all or (older_than is not None and now - m.last_used > older_than)]
    cache_mounts.remove(str(store.layout.cache_mounts), [m.name for m in doomed])
    return len(doomed), sum(m.size for m in doomed)


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
    from .history import prune as prune_history

    prune_history(store)  # (the builds whose records are gone)
    freed = prune_store(store).bytes
    return len(doomed), freed
