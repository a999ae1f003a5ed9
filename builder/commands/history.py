"""`cairn history ls | show ID | diff ID1 ID2`: the builds recorded in the store."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import click

from . import cli
from .common import human_duration, open_store


@cli.group("history")
def history_group():
    """The builds recorded in the store: list, show one, compare two."""


def _when(started: float) -> str:
    return datetime.fromtimestamp(started, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@history_group.command("ls")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", help="Output format.")
@click.pass_context
def ls_cmd(ctx, fmt):
    """Every recorded build, the newest first."""
    from ..store import history_table

    builds = history_table.all_builds(open_store(ctx))
    if fmt == "json":
        for b in builds:
            click.echo(json.dumps({"id": b.id, "started": _when(b.started), "dockerfile": b.dockerfile,
                                   "context": b.context, "seconds": b.seconds, "digest": b.digest,
                                   "steps": len(b.steps), "hits": b.hits, "misses": b.misses}))
        return
    rows = [("ID", "STARTED", "DURATION", "HITS", "MISSES", "DIGEST", "DOCKERFILE")]
    rows += [(str(b.id), _when(b.started), human_duration(b.seconds), str(b.hits), str(b.misses),
              b.digest.split(":")[-1][:12], b.dockerfile) for b in builds]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo("   ".join(c.ljust(w) for c, w in zip(r, widths)) + "   " + r[-1])


@history_group.command("show")
@click.argument("build_id", metavar="ID")
@click.pass_context
def show_cmd(ctx, build_id):
    """One build: its inputs, result, and each step (hit, or miss with its cause)."""
    from ..cache.history import find

    b = find(open_store(ctx), build_id)
    click.echo(f"Build {b.id}\nStarted:    {_when(b.started)}\nDockerfile: {b.dockerfile}\nContext:    {b.context}\n"
               f"Duration:   {human_duration(b.seconds)}\nDigest:     {b.digest}\n"
               f"Steps:      {len(b.steps)} ({b.hits} hits, {b.misses} misses)")
    for s in b.steps:
        state = "CACHED" if s.get("cached") else f"MISS ({s['explanation']})" if s.get("explanation") else "DONE"
        click.echo(f"  {os.path.basename(b.dockerfile)}:{s.get('line', '?')} [{s['stage']}] {' '.join(s['instruction'].split())}  "
                   f"{state}")


@history_group.command("diff")
@click.argument("first", metavar="ID1")
@click.argument("second", metavar="ID2")
@click.pass_context
def diff_cmd(ctx, first, second):
    """Which inputs differ between two builds of the same Dockerfile, step by step."""
    from ..cache.history import diff, find
    from ..executor.keys import FIELD_LABELS

    store = open_store(ctx)
    lines = diff(store, find(store, first), find(store, second), FIELD_LABELS)
    for line in lines or ["no step's inputs differ"]:
        click.echo(line)
