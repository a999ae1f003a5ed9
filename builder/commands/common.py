"""What the CLI commands share: the store they open, error texts, human-readable sizes and times."""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

import click

from ..errors import CairnError, UsageError

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
    text = f"{filename}:{err.start_line}: {err.message}"
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


def echo_table(table: list[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell, three spaces apart, as docker prints them."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def human_size(n: int) -> str:
    """docker's decimal units: 4.26MB."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            if unit == "B":
                return f"{n}B"
            return f"{n:.3g}{unit}"
        n /= 1000
    return f"{n}B"


def human_ago(iso: str | None) -> str:
    if not iso:
        return "N/A"
    try:
        then = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "N/A"
    delta = time.time() - then
    for secs, name in ((365 * 86400, "year"), (30 * 86400, "month"), (7 * 86400, "week"),
                       (86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if delta >= secs:
            n = int(delta // secs)
            return f"{n} {name}{'s' if n != 1 else ''} ago"
    return "Less than a second ago"
