"""Container commands: ps, stop, rm, logs (run is in run.py)."""

from __future__ import annotations

import sys

import click

from ..errors import CairnError, UsageError
from . import cli
from .common import open_store, parse_since


@cli.command("ps")
@click.option("-a", "--all", "include_all", is_flag=True, help="Show all containers (default shows just running).")
@click.option("-f", "--filter", "filters", multiple=True, metavar="FILTER",
              help="Filter output based on conditions provided (status=, name=, label=, ancestor=, id=, "
                   "exited=, health=, before=, since=).")
@click.option("--format", "fmt", metavar="STRING",
              help="Format output using a Go template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'.")
@click.option("-n", "--last", type=int, default=-1, metavar="INT",
              help="Show n last created containers (includes all states).")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container (includes all states).")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs.")
@click.option("-s", "--size", is_flag=True, default=None, help="Display total file sizes.")
@click.pass_context
def ps_cmd(ctx, include_all, filters, fmt, last, latest, no_trunc, quiet, size):
    """List containers."""
    from ..containers.dirs import all_containers
    from ..containers.lifecycle import reap_stale
    from .container_list import (
        DEFAULT_TABLE,
        HEADERS,
        ContainerFilter,
        container_record,
        parse_filters,
    )
    from .formatter import echo_rows, prepare

    if fmt:
        prepare(fmt)  # a bad template fails before anything is listed
    store = open_store(ctx)
    reap_stale(store)
    containers = all_containers(store)  # newest first
    accept = ContainerFilter(parse_filters(filters), store, containers)
    if latest:
        last = 1
    show_stopped = include_all or last > 0 or accept.shows_stopped
    if fmt and size is None and not quiet:
        size = ".Size" in fmt  # docker computes sizes when the template asks for them
    size_of = _image_size(store) if size else None
    items = []
    for c in containers:
        st = c.state()
        running = c.running()
        if (running or show_stopped) and accept(c, st, running):
            items.append(container_record(c, st, running, no_trunc, size_of))
        if 0 < last <= len(items):
            break
    if quiet:
        fmt = "{{.ID}}"  # docker: -q wins over any --format
    elif not fmt or fmt.strip() == "table":
        fmt = DEFAULT_TABLE + ("\\t{{.Size}}" if size else "")
    echo_rows(fmt, items, HEADERS, DEFAULT_TABLE)


def _image_size(store):
    """The size of a container's image, looked up once per image."""
    from ..store import images

    sizes: dict = {}

    def size_of(st: dict) -> int:
        key = st.get("image_id") or st.get("image") or ""
        if key not in sizes:
            try:
                sizes[key] = images.resolve(store, key).size
            except CairnError:  # the image was removed since
                sizes[key] = 0
        return sizes[key]
    return size_of


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
@click.option("-f", "--follow", is_flag=True, help="Follow log output (until the container exits).")
@click.option("-n", "--tail", default="all", show_default=True, metavar="N|all",
              help="Number of lines to show from the end of the logs.")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps.")
@click.option("--since", metavar="TIME",
              help="Show logs since a timestamp (2013-01-02T13:23:37Z) or relative time (42m for 42 minutes).")
@click.argument("container")
@click.pass_context
def logs_cmd(ctx, follow, tail, timestamps, since, container):
    """Fetch the output (stdout and stderr together) of a detached container."""
    from ..containers.lifecycle import log_file, still_running
    from ..containers.logfile import copy_from, tail_offset

    since_ts = parse_since(since) if since else None
    try:
        lines = int(tail)
    except ValueError:
        lines = -1  # docker reads anything but a number (`all`, say) as everything
    c, f = log_file(open_store(ctx), container)
    with f:
        offset = tail_offset(f, lines) if lines >= 0 else 0
        if not timestamps and since_ts is None:
            copy_from(f, offset, sys.stdout.buffer, lambda: still_running(c), follow)
            return
        if not (c.path / "log.times").exists() and not still_running(c):
            raise UsageError(f"logs {'--timestamps' if timestamps else '--since'}: container {c.id[:12]} ran "
                             "before cairn kept the times of log lines; use `cairn logs --tail N`")
        from .log_lines import write_timed

        write_timed(c, f, offset, since_ts, timestamps, follow, lambda: still_running(c))
