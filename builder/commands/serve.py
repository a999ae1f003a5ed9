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
              help="Where to listen: unix:///PATH, or tcp://HOST:PORT (TLS client certificates, or loopback).")
@click.option("-G", "--group", default=None, help="Group owning the socket (mode 0660); default root's.")
@click.option("--tlsverify", is_flag=True, help="TCP: TLS, and only clients with a certificate signed by --tlscacert.")
@click.option("--tlscacert", default=None, help="CA certificate that client certificates must be signed by.")
@click.option("--tlscert", default=None, help="The server's TLS certificate.")
@click.option("--tlskey", default=None, help="The server's TLS key.")
@click.pass_context
def serve_cmd(ctx, host: str, group: str | None, tlsverify: bool, tlscacert: str | None, tlscert: str | None,
              tlskey: str | None) -> None:
    """Serve the Docker Engine API so that docker's clients (DOCKER_HOST=unix://PATH) drive cairn."""
    from pathlib import Path

    from ..serve.app import make_router
    from ..serve.listen import ListenError, bind_tcp
    from ..serve.server import Context, bind_unix, serve

    warn = lambda text: click.echo(f"cairn serve: {text}", err=True)
    root = ctx.find_root().obj["root"]
    # (before any socket or thread: its workers inherit neither; with --debug it says what it keeps)
    zygote = _start_zygote(root, warn if ctx.find_root().obj.get("debug") else None)
    tls = path = None
    if host.startswith("tcp://"):
        try:
            sock, tls = bind_tcp(host, tlsverify, tlscacert, tlscert, tlskey, warn)
        except ListenError as err:
            raise Failure(f"cairn serve: {err}", 2) from None
        where = host
    elif host.startswith("unix://"):
        if tlsverify or tlscacert or tlscert or tlskey:
            raise Failure("cairn serve: TLS settings are for a tcp:// host (a unix socket is guarded by its mode "
                          "and group)", 2)
        path = Path(host.removeprefix("unix://"))
        if not path.is_absolute():
            raise Failure(f"cairn serve: --host {host!r}: the socket path must be absolute (unix:///PATH)", 2)
        sock = bind_unix(path, _group_id(group))
        where = f"unix://{path}"
    else:
        raise Failure(f"cairn serve: --host {host!r}: expected unix:///PATH or tcp://HOST:PORT", 2)
    click.echo(f"cairn serve: listening on {where}{' (TLS, client certificates required)' if tls else ''} "
               f"(API 1.41, store {root})", err=True)
    context = Context(root)
    context.zygote = zygote
    serve(sock, path, make_router(), context, log=warn, tls=tls)


def _start_zygote(root: str, log=None):
    """The process that runs cairn commands for CAIRN_HOST clients (serve/cli_zygote.py)."""
    from ..serve.cli_route import Zygote
    from ..serve.cli_zygote import start

    chan, pid = start(root, log)
    return Zygote(chan, pid)
