"""The replay of a build the whole-build memo answers (build_memo.py): what the fully cached
build printed (its progress events, check warnings among them, in the --progress mode asked
for now), the tags it pointed at its image, the hits it marked used (what the cache's LRU
prune reads), its entry in the build history and its --metadata-file, with the times of now."""

from __future__ import annotations

import time
from dataclasses import replace

EVENTS = ("stage", "step", "log", "done", "error", "info", "warn")


def replay(store, record: dict, shown) -> tuple[str, dict]:
    """Do what the build did, its output on `shown` (an executor.progress.Progress, closed
    here); (image ID, metadata) for the command's outputs."""
    from ..store import build_memo_table, cache_table, history_table

    started, t0 = time.time(), time.monotonic()
    tags = build_memo_table.retag(store, record["manifest"], record["tags"])
    cache_table.touch_many(store, [hit[0] for hit in record["hits"]])
    metadata = dict(record["metadata"])
    metadata["image.name"] = ",".join(tags)
    shift = started - record["started"]
    metadata["steps"] = [{**s, "started": round(s["started"] + shift, 3), "finished": round(s["finished"] + shift, 3)}
                         for s in metadata["steps"]]
    try:
        for name, args, kwargs in record["events"]:
            if name in EVENTS:  # (the methods build_memo.capture records, nothing else)
                getattr(shown, name)(*args, **kwargs)
    finally:
        shown.close()
    dockerfile, context = record["history"]
    history_table.add(store, started, dockerfile, context, round(time.monotonic() - t0, 3), record["manifest"],
                      metadata["hits"], metadata["misses"], metadata["steps"])
    return record["config"], metadata


def all_cached(events: list, steps, metadata: dict) -> tuple[list, dict] | None:
    """(events, metadata) of the rebuild of a build that missed, in which each step with a key
    hits (the rest run again as they ran), made from the build's steps: each such step
    announced and done as CACHED, without its miss reason or output; the metadata's steps
    hits, their explanations and sizes gone. None when the build did what its rebuild
    would not (a cached layer found missing and rebuilt, a cache mount restored, an
    error) or its events cannot be told apart by step."""
    done = [args[0] for name, args, _ in events if name == "done"]
    if len(done) != len(steps) or len(set(done)) != len(done):
        return None
    by_number = dict(zip(done, steps))
    if any(name == "step" and (len(args) < 4 or by_number.get(args[0]) is None
                               or args[3] != by_number[args[0]].instruction) for name, args, _ in events):
        return None  # (parallel stages may append their steps and say them done interleaved)
    out = []
    for name, args, kwargs in events:
        if name == "stage":
            out.append([name, args, kwargs])
        elif name == "warn":
            if ": its cached layer " in (args[0] if args else ""):
                return None  # (a lost layer, rebuilt: its rebuild warns of nothing)
            out.append([name, args, kwargs])
        elif name in ("step", "log", "done"):
            step = by_number.get(args[0] if args else None)
            if step is None or kwargs:
                return None
            hit = step.key is not None
            if not hit:
                out.append([name, args, kwargs])
            elif name == "step":
                out.append([name, list(args[:4]) + [None, None, True], {}])
            elif name == "done":
                out.append([name, [args[0], args[1], True, None] + list(args[4:]), {}])
        else:  # (an error; an info of a cache mount restored for a RUN that ran)
            return None
    rebuilt = [replace(s, cached=True, cache_source="local", size=0, explanation=None, miss_cause=None,
                       changed_files=[]) if s.key is not None else s for s in steps]
    turned = [s.kind for s in steps if s.key is not None and not s.cached]
    hits, misses = metadata["hits"] + len(turned), metadata["misses"] - len(turned)
    if misses < 0 or any(kind not in ("RUN", "COPY", "ADD") for kind in turned):  # (result.COUNTED's kinds)
        return None
    return out, {**metadata, "steps": [s.to_json() for s in rebuilt], "hits": hits, "misses": misses,
                 "hit_rate": round(hits / (hits + misses), 4) if hits + misses else 0.0,
                 "rebuilt_bytes": sum(s.size for s in rebuilt if not s.cached)}
