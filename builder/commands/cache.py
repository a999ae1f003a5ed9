"""`cairn cache du | ls | prune`."""

from __future__ import annotations

import time

import click

from . import cli
from .common import human_size, open_store


@cli.group("cache")
def cache_group():
    """Look at and trim the build cache."""


@cache_group.command("du")
@click.pass_context
def du_cmd(ctx):
    """Disk used by cached layers, in total and by kind of step."""
    from ..cache.maintenance import usage

    for kind, size in sorted(usage(open_store(ctx)).items(), key=lambda kv: (kv[0] == "total", kv[0])):
        click.echo(f"{kind:<8} {human_size(size)}")


def _printable(text: str) -> str:
    """An id or step as one line, with no terminal control characters (it comes from a Dockerfile)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@cache_group.command("ls")
@click.pass_context
def ls_cmd(ctx):
    """Cache records, most recently used first; then the RUN --mount=type=cache directories
    (KIND MOUNT, with their id)."""
    from ..cache.maintenance import entries, mounts

    store = open_store(ctx)
    click.echo(f"{'KEY':<14} {'KIND':<8} {'SIZE':>8}  {'LAST USED':<20} STEP")
    for e in entries(store):
        used = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.last_used))
        click.echo(f"{e.key[:12]:<14} {e.kind:<8} {human_size(e.size):>8}  {used:<20} {_printable(e.summary[:60])}")
    for m in mounts(store):
        used = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m.last_used))
        click.echo(f"{m.name[:12]:<14} {'MOUNT':<8} {human_size(m.size):>8}  {used:<20} "
                   f"type=cache,id={_printable(m.id[:60])}")


@cache_group.command("prune")
@click.option("--keep-storage", default=None, metavar="SIZE", help="Keep at most this much (e.g. 5g).")
@click.option("--all", "prune_all", is_flag=True, help="Drop every record.")
@click.option("--filter", "filters", multiple=True, metavar="until=DURATION|type=cache-mount|type=regular",
              help="Drop records not used for this long (e.g. until=24h); type= drops only cache mounts "
                   "(RUN --mount=type=cache directories) or only step records.")
@click.pass_context
def prune_cmd(ctx, keep_storage, prune_all, filters):
    """Drop cache records, least recently used first (never a layer an image needs), and the
    RUN --mount=type=cache directories (--all, or not used for the until= time)."""
    from ..cache.maintenance import prune, prune_mounts
    from ..errors import UsageError
    from ..instructions.durations import parse_duration
    from ..units import ram_in_bytes

    keep = None
    if keep_storage is not None:
        try:
            keep = ram_in_bytes(keep_storage)
        except ValueError:
            raise UsageError(f"invalid --keep-storage {keep_storage!r}: write it like 500m or 5g") from None
    older = None
    kinds = set()
    for f in filters:
        key, _, value = f.partition("=")
        if key == "type" and value in _TYPES:
            kinds.add(_TYPES[value])
            continue
        if key != "until" or not value:
            raise UsageError(f"invalid --filter {f!r}: only until=DURATION, type=cache-mount and type=regular "
                             "are supported")
        try:
            older = parse_duration(value) / 1e9
        except ValueError as err:
            raise UsageError(f"invalid --filter {f!r}: {err}") from None
    kinds = kinds or {"records", "mounts"}
    if kinds == {"mounts"} and keep is not None:
        raise UsageError("--keep-storage trims step records: it cannot be given with --filter type=cache-mount")
    if kinds == {"mounts"} and older is None:
        prune_all = True  # `--filter type=cache-mount`: every cache mount
    if keep is None and older is None and not prune_all:
        raise UsageError("say what to prune: --all, --keep-storage SIZE, --filter until=DURATION "
                         "or --filter type=cache-mount")
    store = open_store(ctx)
    dropped = freed = removed = 0
    if "records" in kinds:
        dropped, freed = prune(store, keep, prune_all, older)
    if "mounts" in kinds:
        removed, mount_bytes = prune_mounts(store, prune_all, older)
        freed += mount_bytes
    if kinds == {"mounts"}:
        click.echo(f"Removed {removed} cache mounts; reclaimed {human_size(freed)}")
    elif "mounts" in kinds and removed:
        click.echo(f"Dropped {dropped} cache records and {removed} cache mounts; reclaimed {human_size(freed)}")
    else:
        click.echo(f"Dropped {dropped} cache records; reclaimed {human_size(freed)}")


# buildx's --filter type= values (its names too) -> what cairn prunes
_TYPES = {"cache-mount": "mounts", "exec.cachemount": "mounts", "regular": "records"}
