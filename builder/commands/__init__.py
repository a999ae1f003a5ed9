"""The `cairn` command group; each submodule adds its commands to it."""

from __future__ import annotations

import click

from .common import default_root
from .help import CairnGroup


@click.group(cls=CairnGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", default=default_root, show_default="$CAIRN_ROOT, /var/lib/cairn as root",
              help="Store directory.")
@click.option("--debug", is_flag=True, help="Show Python tracebacks.")
@click.option("-v", "--version", is_flag=True, expose_value=False, is_eager=True,
              callback=lambda ctx, param, value: _print_version(ctx, param, value),
              help="Print version information and quit.")
@click.pass_context
def cli(ctx: click.Context, root: str, debug: bool) -> None:
    """cairn: a Dockerfile build engine whose first concern is layer caching."""
    ctx.obj = {"root": root, "debug": debug, "store": None}


def _print_version(ctx, param, value):
    if value:
        from .version import print_version

        print_version(ctx, param, value)


from . import bench as _bench  # noqa: E402,F401  (registers commands)
from . import build as _build  # noqa: E402,F401
from . import cache as _cache  # noqa: E402,F401
from . import check as _check  # noqa: E402,F401
from . import containers as _containers  # noqa: E402,F401
from . import exec as _exec  # noqa: E402,F401
from . import history as _history  # noqa: E402,F401
from . import images as _images  # noqa: E402,F401
from . import info as _info  # noqa: E402,F401
from . import inspect as _inspect  # noqa: E402,F401
from . import parse as _parse  # noqa: E402,F401
from . import port as _port  # noqa: E402,F401
from . import registry as _registry  # noqa: E402,F401
from . import run as _run  # noqa: E402,F401
from . import serve as _serve  # noqa: E402,F401
from . import version as _version  # noqa: E402,F401
from . import volumes as _volumes  # noqa: E402,F401
