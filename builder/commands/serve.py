"""`cairn serve`: the Docker Engine API (1.41) on a unix socket (builder/serve/)."""

from __future__ import annotations

import click

from . import cli
from .common import Failure


def _group_id(group: str | None) -> int:
    import grp

    if group is None:
        return 0
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise Failure(f"cairn serve: no such group: {group!r}", 2) from None


@cli.command("serve")
@click.option("-H", "--host", default="unix:///run/cairn.sock", show_default=True,
              help="Socket to listen on (unix:///PATH).")
@click.option("-G", "--group", default=None, help="Group owning the socket (mode 0660); default root's.")
@click.pass_context
def serve_cmd(ctx, host: str, group: str | None) -> None:
    """Serve the Docker Engine API so that docker's clients (DOCKER_HOST=unix://PATH) drive cairn."""
    from pathlib import Path

    from ..serve.app import make_router
    from ..serve.server import Context, bind_unix, serve

    if not host.startswith("unix://"):
        raise Failure(f"cairn serve: --host {host!r}: only unix:///PATH sockets are served (TCP would "
                      f"need TLS client certificates, which cairn serve does not take yet)", 2)
    path = Path(host.removeprefix("unix://"))
    if not path.is_absolute():
        raise Failure(f"cairn serve: --host {host!r}: the socket path must be absolute (unix:///PATH)", 2)
    gid = _group_id(group)
    root = ctx.find_root().obj["root"]
    sock = bind_unix(path, gid)
    click.echo(f"cairn serve: listening on unix://{path} (API 1.41, store {root})", err=True)
    serve(sock, path, make_router(), Context(root), log=lambda text: click.echo(f"cairn serve: {text}", err=True))
