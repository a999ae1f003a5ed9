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


@cache_group.command("ls")
@click.pass_context
def ls_cmd(ctx):
    """Cache records, most recently used first."""
    from ..cache.maintenance import entries

    click.echo(f"{'KEY':<14} {'KIND':<8} {'SIZE':>8}  {'LAST USED':<20} STEP")
    for e in entries(open_store(ctx)):
        used = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.last_used))
        click.echo(f"{e.key[:12]:<14} {e.kind:<8} {human_size(e.size):>8}  {used:<20} {e.summary[:60]}")


@cache_group.command("prune")
@click.option("--keep-storage", default=None, metavar="SIZE", help="Keep at most this much (e.g. 5g).")
@click.option("--all", "prune_all", is_flag=True, help="Drop every record.")
@click.option("--filter", "filters", multiple=True, metavar="until=DURATION",
              help="Drop records not used for this long (e.g. until=24h).")
@click.pass_context
def prune_cmd(ctx, keep_storage, prune_all, filters):
    """Drop cache records, least recently used first (never a layer an image needs)."""
    from ..cache.maintenance import prune
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
    for f in filters:
        key, _, value = f.partition("=")
        if key != "until" or not value:
            raise UsageError(f"invalid --filter {f!r}: only until=DURATION is supported")
        try:
            older = parse_duration(value) / 1e9
        except ValueError as err:
            raise UsageError(f"invalid --filter {f!r}: {err}") from None
    if keep is None and older is None and not prune_all:
        raise UsageError("say what to prune: --all, --keep-storage SIZE or --filter until=DURATION")
    dropped, freed = prune(open_store(ctx), keep, prune_all, older)
    click.echo(f"Dropped {dropped} cache records; reclaimed {human_size(freed)}")
