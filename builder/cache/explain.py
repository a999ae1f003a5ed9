"""Why a step missed: its inputs against the nearest earlier record for the same step
position (the same stage and step of the same Dockerfile path). Says which files changed
(up to 20 paths, then a count), which env or build args changed, whether the parent
changed, or that the instruction changed."""

from __future__ import annotations

from runtime.record import Record, record

from ..store import cache_table
from ..store.store import Store

MAX_PATHS = 20


def previous_inputs(store: Store, position: str, key: str) -> dict | None:
    return cache_table.latest_inputs_at(store, position, key)


def _flatten(tree, prefix: str, out: dict) -> None:
    """COPY source trees ([name, entry] lists) to {path: entry-without-children}."""
    for name, entry in tree:
        path = f"{prefix}/{name}" if prefix else name
        if entry and entry[0] == "d":
            out[path] = ["d", entry[1]]
            _flatten(entry[2], path, out)
        else:
            out[path] = entry


def _env(items: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in items)


@record
class Explanation(Record):
    text: str
    cause: str                        # new | format | files | env | instruction | parent
    changed_files: tuple[str, ...] = ()  # every path whose content, type or mode changed (COPY/ADD)


def explain_details(store: Store, position: str, key: str, inputs: dict, earlier: dict | None,
                    labels: dict[str, str]) -> Explanation:
    """`earlier`: inputs of an earlier record from elsewhere (a --cache-from source), used
    when the store has none for this position. `labels`: the key's fields other than files
    and env (executor/keys.py FIELD_LABELS), each with the words that name it."""
    before = previous_inputs(store, position, key) or earlier
    if before is None:
        return Explanation("no earlier build of this step", "new")
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
            shown = ", ".join(changed[:MAX_PATHS])
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
    if not reasons and before.get("parent") != inputs.get("parent"):
        return Explanation("the parent changed (an earlier step missed, or the base image changed)", "parent")
    if not reasons:
        return Explanation("the instruction changed", "instruction")
    return Explanation("; ".join(reasons), cause or "instruction", tuple(changed))
