"""The `cairn` command group; each submodule adds its commands to it."""

from __future__ import annotations

import click

from .common import default_root
from .help import CairnGroup
from .lazy_commands import LazyCommands


@click.group(cls=CairnGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", default=default_root, show_default="$CAIRN_ROOT, /var/lib/cairn as root",
              help="Store directory.")
@click.option("--debug", is_flag=True, help="Show Python tracebacks.")
@click.option("--host", default=None, expose_value=False, metavar="unix:///PATH|tcp://HOST:PORT",
              help="Run build, run, ps and images through `cairn serve` there ($CAIRN_HOST).")
@click.option("--tlsverify", is_flag=True, expose_value=False,
              help="tcp:// host: TLS with a client certificate ($CAIRN_TLS_VERIFY; files in $CAIRN_CERT_PATH).")
@click.option("--tlscacert", expose_value=False, metavar="FILE", help="tcp:// host: the CA (ca.pem).")
@click.option("--tlscert", expose_value=False, metavar="FILE", help="tcp:// host: the client certificate (cert.pem).")
@click.option("--tlskey", expose_value=False, metavar="FILE", help="tcp:// host: the client key (key.pem).")
@click.option("-v", "--version", is_flag=True, expose_value=False, is_eager=True,
              callback=lambda ctx, param, value: _print_version(ctx, param, value),
              help="Print version information and quit.")
@click.pass_context
def cli(ctx: click.Context, root: str, debug: bool) -> None:
    """cairn: a Dockerfile build engine whose first concern is layer caching."""
    if ctx.invoked_subcommand != "run":  # (run: once its container started, or before a pull)
        from ..startup_gc import resume

        resume()  # the command runs with the collector on (builder.startup_gc)
    ctx.obj = {"root": root, "debug": debug, "store": None}


def _print_version(ctx, param, value):
    if value:
        from .version import print_version

        print_version(ctx, param, value)


# command name -> the module (in this package) that defines it. A command's module is imported
# when that command runs (`cairn run` loads no build, registry or bench code); listing them
# (`cairn --help`, `cli.commands` iterated) imports them all. tests/test_command_table.py
# checks that the table names every command where it is defined.
COMMAND_MODULES = {
    "bench": "bench", "build": "build", "cache": "cache", "check": "check",
    "ps": "containers", "stop": "containers", "rm": "containers", "logs": "containers",
    "exec": "exec", "history": "history",
    "import": "images", "images": "images", "tag": "images", "rmi": "images", "save": "images",
    "load": "images", "prune": "images", "store": "images",
    "info": "info", "inspect": "inspect", "parse": "parse", "port": "port",
    "pull": "registry", "push": "registry", "login": "registry", "logout": "registry",
    "run": "run", "serve": "serve", "version": "version", "volume": "volumes",
}
cli.commands = LazyCommands(__name__, COMMAND_MODULES, cli.commands)
