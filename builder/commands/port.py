"""`cairn port CONTAINER [PRIVATE_PORT[/PROTO]]`: a container's published ports, as docker port."""

from __future__ import annotations

import click

from ..errors import CairnError
from . import cli
from .common import open_store


@cli.command("port")
@click.argument("container")
@click.argument("private_port", required=False)
@click.pass_context
def port_cmd(ctx, container, private_port):
    """List the host ports the container's ports are published on (-p, -P)."""
    from ..containers.dirs import find_container

    published = find_container(open_store(ctx), container).state().get("ports") or []
    if private_port is None:
        for p in published:
            click.echo(f"{p['container_port']}/{p['protocol']} -> {p['host_ip']}:{p['host_port']}")
        return
    number, _, proto = private_port.partition("/")
    found = [p for p in published if str(p["container_port"]) == number and p["protocol"] == (proto or "tcp")]
    if not found:
        raise CairnError(f"no public port '{private_port}' published for {container}")
    for p in found:
        click.echo(f"{p['host_ip']}:{p['host_port']}")
