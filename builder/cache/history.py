"""Build history: every finished build is recorded in the store (store/history_table.py),
listed and shown by `cairn history ls|show`, compared step by step by `cairn history diff`
(which inputs differ, read from the cache records of the two builds' keys), and pruned with
the cache (a build none of whose keyed steps has a record left is dropped)."""

from __future__ import annotations

import os

from ..errors import CairnError
from ..store import cache_table, history_table
from ..store.store import Store
from .explain import compare


def record(store: Store, started: float, dockerfile: str, context: str, seconds: float, digest: str,
           metadata: dict) -> int:
    return history_table.add(store, started, dockerfile, context, round(seconds, 3), digest, metadata["hits"],
                             metadata["misses"], metadata["steps"])


def find(store: Store, text: str) -> history_table.Build:
    build = history_table.get(store, int(text)) if text.isdigit() else None
    if build is None:
        raise CairnError(f"no build {text!r} in the history (cairn history ls lists them)")
    return build


def prune(store: Store) -> int:
    """Drop the builds whose keyed steps have no cache record left; returns how many."""
    doomed = []
    for build in history_table.all_builds(store):
        keys = [s["key"] for s in build.steps if s.get("key")]
        if not any(cache_table.get(store, k) is not None for k in keys):
            doomed.append(build.id)
    history_table.delete(store, doomed)
    return len(doomed)


def _inputs(store: Store, key: str) -> dict | None:
    import json

    row = cache_table.get(store, key)
    return json.loads(row.inputs) if row is not None else None


def diff(store: Store, a: history_table.Build, b: history_table.Build, labels: dict[str, str]) -> list[str]:
    """One line per step whose key differs between build a and build b: `Dockerfile:LINE TEXT: why`."""
    if a.dockerfile != b.dockerfile:
        raise CairnError(f"builds {a.id} and {b.id} are of different Dockerfiles ({a.dockerfile}, {b.dockerfile}): "
                         "diff compares two builds of the same Dockerfile")
    by_position = {s["position"]: s for s in a.steps}
    out = []
    first: dict[str, str] = {}  # stage -> its first step that differs
    for step in b.steps:
        old = by_position.get(step["position"])
        where = f"{os.path.basename(b.dockerfile)}:{step.get('line', '?')} {' '.join(step['instruction'].split())}"
        if old is None:
            out.append(f"{where}: not in build {a.id}")
            continue
        if old.get("key") == step.get("key"):
            continue
        if not old.get("key") or not step.get("key"):
            out.append(f"{where}: not cached in one of the builds")
            continue
        before, after = _inputs(store, old["key"]), _inputs(store, step["key"])
        if before is None or after is None:
            out.append(f"{where}: the inputs of build {a.id if before is None else b.id} are no longer in the store")
            continue
        out.append(f"{where}: {compare(before, after, labels, first.get(step['stage'])).text}")
        first.setdefault(step["stage"], where)
    return out
