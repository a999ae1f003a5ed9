"""What the CLI commands share: the store they open, error texts, human-readable sizes and times."""

from __future__ import annotations

import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path

import click

from ..errors import CairnError, UsageError, located

_CONTEXT_LINES = 6


class Failure(CairnError):
    """A message already formatted for the user, with its exit code."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.exit_code = code


def default_root() -> str:
    env = os.environ.get("CAIRN_ROOT")
    if env:
        return env
    if os.geteuid() == 0:
        userns = sys.modules.get("runtime.userns")  # imported by a rootless start only
        if userns is None or userns.active() is None:  # rootless mode is root of its own namespace
            return "/var/lib/cairn"
    return str(Path.home() / ".local" / "share" / "cairn")


def open_store(ctx: click.Context):
    from ..store.store import Store

    obj = ctx.find_root().obj
    if obj.get("store") is None:
        try:
            obj["store"] = Store(obj["root"])
        except OSError as err:
            raise CairnError(f"cannot open the store at {obj['root']}: {err.strerror or err}") from None
        ctx.find_root().call_on_close(obj["store"].close)
    return obj["store"]


def dockerfile_error_text(err, filename: str, source: str | None) -> str:
    """`Dockerfile:LINE: message`, then the offending lines for context."""
    if not err.start_line:
        return f"{filename}: {err.message}"
    text = located(filename, err.start_line, err.message)
    if source is not None:
        lines = source.split("\n")
        last = min(err.end_line, err.start_line + _CONTEXT_LINES - 1, len(lines))
        for no in range(err.start_line, last + 1):
            text += f"\n {no:>4} | {lines[no - 1]}"
    return text


MAX_DOCKERFILE = 16 << 20  # BuildKit's limit


def read_file_arg(path: str, from_context: bool = False) -> bytes:
    """A Dockerfile (`-` for stdin), read with a cap: never more than MAX_DOCKERFILE + 1
    bytes are held, whatever the file (or a pipe) holds. A device is refused; so is a pipe
    unless the user named it (`-f <(...)`): the context's own Dockerfile must be a file."""
    from ..bounded import open_regular_file

    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_DOCKERFILE + 1)
        else:
            with open_regular_file(path, path, allow_fifo=not from_context) as f:
                data = f.read(MAX_DOCKERFILE + 1)
    except OSError as err:
        raise CairnError(f"cannot read {path}: {err.strerror}") from None
    if len(data) > MAX_DOCKERFILE:
        raise UsageError(f"{'Dockerfile' if path == '-' else path}: Dockerfile exceeds maximum allowed size "
                         f"of {MAX_DOCKERFILE >> 20} MiB")
    return data


def human_size(n: int) -> str:
    """docker's decimal units: 4.26MB."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            if unit == "B":
                return f"{n}B"
            return f"{n:.3g}{unit}"
        n /= 1000
    return f"{n}B"


def human_duration(seconds: float) -> str:
    """docker's units.HumanDuration: `Less than a second`, `3 seconds`, `About a minute`,
    `2 minutes`, `About an hour`, `5 hours`, `3 days`, `2 weeks`, `4 months`, `2 years`."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)  # Go's math.Round
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{s // 3600 // 24 // 365} years"


def parse_time(value) -> float | None:
    """Seconds since the epoch from a number or an RFC 3339 text (an image's `created`)."""
    if isinstance(value, (int, float)):
        return float(value)
    if not value:
        return None
    try:
        text = re.sub(r"(\.\d{6})\d+", r"\1", str(value).replace("Z", "+00:00"))
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


_GO_DURATION = r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)"  # (compiled by the first --since: re's cache)
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_since(text: str) -> float:
    """docker's --since/--until: a Go duration before now (`42m`, `1h30m`), a Unix time
    (`1700000000.5`), or an RFC 3339 time or date (`2013-01-02T13:23:37Z`, `2013-01-02`)."""
    value = text.strip()
    if value and re.sub(_GO_DURATION, "", value) == "":
        return time.time() - sum(float(n) * _UNITS[u] for n, u in re.findall(_GO_DURATION, value))
    try:
        return float(value)
    except ValueError:
        pass
    then = parse_time(value)
    if then is None:
        raise UsageError(f"invalid value for --since: {text!r} (a duration such as 42m, a Unix time, or "
                         "an RFC 3339 time such as 2013-01-02T13:23:37Z)")
    return then


def human_ago(value) -> str:
    """docker's CREATED column: `2 minutes ago`, or `N/A` without a time."""
    then = parse_time(value)
    if then is None:
        return "N/A"
    return human_duration(time.time() - then) + " ago"


def go_time(value) -> str:
    """Go's time.String() in local time: `2026-11-30 10:58:33 +0000 UTC`."""
    then = parse_time(value)
    if then is None:
        return ""
    return datetime.fromtimestamp(then).astimezone().strftime("%Y-%m-%d %H:%M:%S %z %Z")
