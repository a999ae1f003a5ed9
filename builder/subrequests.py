"""`cairn build --call METHOD[,format=json|text]`: buildx's frontend methods.

`build` (the default) builds; `outline`, `targets` and `subrequests.describe` read the
Dockerfile and print what it offers without running a step (builder.outline), as text
laid out like buildx's or, with `format=json`, as the JSON buildx prints (BuildKit's
result.json). `check` runs the build checks (builder.commands.check).
"""

from __future__ import annotations

import json

from runtime.record import Record, record

from .errors import UsageError

METHODS = ("build", "check", "outline", "targets", "subrequests.describe")
FORMATS = ("text", "json")

# What `--call subrequests.describe` lists (BuildKit's request definitions, in its order).
_DESCRIBE = (
    ("frontend.outline", "List all parameters current build target supports",
     [{"name": "target", "description": "Target build stage"}]),
    ("frontend.targets", "List all targets current build supports", []),
    ("frontend.subrequests.describe", "List available subrequest types", []),
)
CHECK_AVAILABLE = True  # `--call check` (builder.checks): describe lists frontend.lint


@record
class Call(Record):
    method: str = "build"
    format: str = "text"


def parse_call(text: str | None) -> Call:
    """`--call` as buildx reads it: a method, then `format=...` (other keys refused)."""
    if not text:
        return Call()
    method, *options = [part.strip() for part in text.split(",")]
    method = method.lower()
    if method not in METHODS:
        raise UsageError(f"invalid --call value {text!r}: the method must be one of {', '.join(METHODS)}")
    fmt = "text"
    for option in options:
        key, eq, value = option.partition("=")
        if key.strip().lower() != "format" or not eq:
            raise UsageError(f"invalid --call value {text!r}: only format=json|text may follow the method")
        fmt = value.strip().lower()
        if fmt not in FORMATS:
            raise UsageError(f"invalid --call value {text!r}: format must be json or text")
    if method == "build" and fmt != "text":
        raise UsageError(f"invalid --call value {text!r}: format applies to outline, targets and "
                         "subrequests.describe")
    if method == "check" and not CHECK_AVAILABLE:
        raise UsageError("--call check is not available yet in cairn (build checks are not implemented)")
    return Call(method, fmt)


def describe() -> list[dict]:
    listed = list(_DESCRIBE)
    if CHECK_AVAILABLE:
        listed.append(("frontend.lint", "Lint a Dockerfile", []))
    return [{"name": name, "version": "1.0.0", "type": "rpc", "description": text, "opts": opts,
             "metadata": [{"name": "result.json"}, {"name": "result.txt"}]}
            for name, text, opts in listed]


def render(call: Call, result) -> str:
    """The result as stdout shows it."""
    if call.format == "json":
        return json.dumps(result, indent=2) + "\n"
    if call.method == "outline":
        return outline_text(result)
    if call.method == "targets":
        return targets_text(result)
    return table([("NAME", "VERSION", "DESCRIPTION")] +
                 [(r["name"].removeprefix("frontend."), r["version"], r["description"]) for r in result], 1)


def table(rows: list[tuple[str, ...]], padding: int) -> str:
    """Rows in columns, as Go's tabwriter lays them out (the last cell is not padded)."""
    widths = [max(len(row[i]) for row in rows) + padding for i in range(len(rows[0]) - 1)]
    return "".join("".join(cell.ljust(w) for cell, w in zip(row, widths)) + row[-1] + "\n" for row in rows)


def outline_text(o: dict) -> str:
    out = []
    if o.get("name") or o.get("description"):
        head = [("TARGET:", o.get("name") or "(default)")]
        if o.get("description"):
            head.append(("DESCRIPTION:", o["description"]))
        out.append(table(head, 1) + "\n")
    if o.get("args"):
        out.append(table([("BUILD ARG", "VALUE", "DESCRIPTION")] +
                         [(a["name"], a.get("value", ""), a.get("description", "")) for a in o["args"]], 3) + "\n")
    for key, title in (("secrets", "SECRET"), ("ssh", "SSH")):
        if o.get(key):
            out.append(table([(title, "REQUIRED")] +
                             [(s["name"], "true" if s.get("required") else "") for s in o[key]], 3) + "\n")
    return "".join(out)


def targets_text(listing: dict) -> str:
    rows = [("TARGET", "DESCRIPTION")]
    for target in listing["targets"]:
        name = target.get("name", "")
        if target.get("default"):
            name = f"{name} (default)" if name else "(default)"
        elif not name:
            continue  # an unnamed stage other than the last cannot be asked for by name
        rows.append((name, target.get("description", "")))
    return table(rows, 1)


def answer(call: Call, raw: bytes, target: str | None, build_args: dict[str, str], platform: str = ""):
    """The method's result (JSON-shaped) for this Dockerfile."""
    if call.method == "subrequests.describe":
        return describe()
    from . import outline

    if call.method == "targets":
        return outline.targets(raw)
    from .platforms import parse

    return outline.outline(raw, target, build_args, parse(platform) if platform else None)
