"""Container commands: ps, stop, rm, logs (run is in run.py)."""

from __future__ import annotations

import sys

import click

from . import cli
from .common import echo_table, open_store


@cli.command("ps")
@click.option("-a", "--all", "include_all", is_flag=True, help="Show stopped containers too.")
@click.option("-q", "--quiet", is_flag=True, help="Only IDs.")
@click.pass_context
def ps_cmd(ctx, include_all, quiet):
    """List containers."""
    from ..containers.lifecycle import ps_rows, reap_stale

    store = open_store(ctx)
    reap_stale(store)
    rows = ps_rows(store, include_all)
    if quiet:
        for row in rows:
            click.echo(row[0])
        return
    echo_table([("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"), *rows])


@cli.command("stop")
@click.option("-t", "--time", "timeout", type=float, default=None,
              help="Seconds to wait before killing the container (its --stop-timeout, else 10).")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def stop_cmd(ctx, timeout, containers):
    """Stop running containers (SIGTERM, then SIGKILL)."""
    from ..containers.lifecycle import stop

    store = open_store(ctx)
    for key in containers:
        stop(store, key, timeout)
        click.echo(key)


@cli.command("rm")
@click.option("-f", "--force", is_flag=True, help="Kill a running container first.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def rm_cmd(ctx, force, containers):
    """Remove containers."""
    from ..containers.lifecycle import reap_stale, remove

    store = open_store(ctx)
    reap_stale(store)
    for key in containers:
        remove(store, key, force)
        click.echo(key)


@cli.command("logs")
@click.argument("container")
@click.pass_context
def logs_cmd(ctx, container):
    """Print a detached container's output."""
    from ..containers.lifecycle import logs

    sys.stdout.buffer.write(logs(open_store(ctx), container))
