"""Why a step missed, named exactly: `--no-cache`, `--no-cache-filter STAGE`, the earlier
step of this build that missed first (its line and text), the base image digest that moved,
or each changed input, against the nearest earlier record for the same step position (the
same stage and step of the same Dockerfile path). Changed files are tagged added, removed,
content or mode (owner for files from images and stages), up to 20 paths, then a count."""

from __future__ import annotations

from runtime.record import Record, record

from ..store import cache_table
from ..store.store import Store

MAX_PATHS = 20

# Every cause a miss can have (the metadata's `miss_cause`).
CAUSES = ("no-cache", "no-cache-filter", "new", "format", "gone", "files", "env", "instruction", "parent", "base")


def previous_inputs(store: Store, position: str, key: str) -> dict | None:
    return cache_table.latest_inputs_at(store, position, key)


def _flatten(tree, prefix: str, out: dict) -> None:
    """COPY source trees ([name, entry] lists) to {path: entry-without-children}."""
    for name, entry in tree:
        path = f"{prefix}/{name}" if prefix else name
        if entry and entry[0] == "d":
            out[path] = ["d", entry[1], *entry[3:]]
            _flatten(entry[2], path, out)
        elif entry is not None:  # (None: a source that matched nothing)
            out[path] = entry


def file_change(old: list | None, new: list | None) -> str:
    """added | removed | content | mode | owner: how one path's entry changed."""
    if old is None:
        return "added"
    if new is None:
        return "removed"
    if old[0] != new[0]:
        return "content"  # (its type changed: a file became a link or a directory)
    if old[0] == "f":  # ["f", mode, hash, uid?, gid?]
        return "content" if old[2:3] != new[2:3] else "mode" if old[1] != new[1] else "owner"
    if old[0] == "d":  # ["d", mode, uid?, gid?] (its children are paths of their own)
        return "mode" if old[1] != new[1] else "owner"
    return "content" if old[1:2] != new[1:2] else "owner"  # a link's target, a device's type


def _env(items: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in items)


@record
class Explanation(Record):
    text: str
    cause: str                        # one of CAUSES
    changed_files: tuple[str, ...] = ()  # every path whose content, type or mode changed (COPY/ADD)


def not_looked_up(no_cache: bool, stage_filter: str | None) -> Explanation:
    """A step the cache was not asked for: the whole build's --no-cache, or its stage's filter."""
    if no_cache:
        return Explanation("--no-cache", "no-cache")
    return Explanation(f"--no-cache-filter {stage_filter}", "no-cache-filter")


def explain_details(store: Store, position: str, key: str, inputs: dict, earlier: dict | None,
                    labels: dict[str, str], first_miss: str | None = None) -> Explanation:
    """`earlier`: inputs of an earlier record from elsewhere (a --cache-from source), used
    when the store has none for this position. `labels`: the key's fields other than files
    and env (executor/keys.py FIELD_LABELS), each with the words that name it. `first_miss`:
    the step of this build (`Dockerfile:LINE TEXT`) below this one whose miss changed the
    filesystem first, if any. `inputs["base"]`: the base image's digest, kept beside the key."""
    if cache_table.get(store, key) is not None:
        return Explanation("its cached layer is gone", "gone")
    before = previous_inputs(store, position, key) or earlier
    if before is None:
        return Explanation("no earlier build of this step", "new")
    return compare(before, inputs, labels, first_miss)


def compare(before: dict, inputs: dict, labels: dict[str, str], first_miss: str | None = None) -> Explanation:
    """What differs between the inputs of two keys of the same step (`before`, then `inputs`)."""
    if before.get("v") != inputs.get("v"):
        return Explanation("the cache format changed", "format")
    old, new = before.get("step", {}), inputs.get("step", {})
    reasons = []
    cause = None
    changed: list[str] = []
    if "sources" in new and "sources" in old and isinstance(new["sources"], list) and new["sources"] \
            and isinstance(new["sources"][0], list):
        a, b = {}, {}
        _flatten(old["sources"], "", a)
        _flatten(new["sources"], "", b)
        changed = sorted(p for p in a.keys() | b.keys() if a.get(p) != b.get(p))
        if changed:
            shown = ", ".join(f"{p} ({file_change(a.get(p), b.get(p))})" for p in changed[:MAX_PATHS])
            more = f" and {len(changed) - MAX_PATHS} more" if len(changed) > MAX_PATHS else ""
            reasons.append(f"files changed: {shown}{more}")
            cause = "files"
    if "env" in new and "env" in old and new["env"] != old["env"]:
        a, b = _env(old["env"]), _env(new["env"])
        names = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        reasons.append("env or build args changed: " + ", ".join(names))
        cause = cause or "env"
    for field, label in labels.items():
        if old.get(field) != new.get(field) and field in (old.keys() | new.keys()):
            reasons.append(f"{label} changed")
            cause = cause or ("parent" if field == "from" else "instruction")
    if reasons:
        return Explanation("; ".join(reasons), cause or "instruction", tuple(changed))
    if before.get("parent") != inputs.get("parent"):
        if first_miss:
            return Explanation(f"an earlier step missed first: {first_miss}", "parent")
        if before.get("base") and inputs.get("base") and before["base"] != inputs["base"]:
            return Explanation(f"the base image changed: {before['base']} -> {inputs['base']}", "base")
        if inputs.get("base") and before.get("base") is None:
            return Explanation(f"the base image changed (now {inputs['base']})", "base")
        return Explanation("the parent changed: the steps below hit other cached versions than last time", "parent")
    return Explanation("the instruction changed", "instruction")
