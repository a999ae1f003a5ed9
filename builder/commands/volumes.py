"""`cairn volume create|ls|inspect|rm|prune`: the store's named and anonymous volumes, with
docker's output (builder.containers.volumes keeps them)."""

from __future__ import annotations

import json

import click

from ..errors import Refused, UsageError
from . import cli
from .common import Failure, human_size, open_store


@cli.group("volume")
def volume_group():
    """Manage volumes (named ones, and the anonymous ones of images' VOLUMEs)."""


@volume_group.command("create")
@click.option("--driver", "-d", default="local", show_default=True, help="Only local: volumes live in the store.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Set metadata on the volume.")
@click.option("--opt", "-o", "opts", multiple=True, metavar="KEY=VALUE", help="Driver options (none supported).")
@click.argument("name", required=False)
@click.pass_context
def create_cmd(ctx, driver, labels, opts, name):
    """Create a volume (a random name when none is given); prints its name."""
    from ..containers import volumes

    if driver != "local":
        raise Refused(f"--driver {driver} is not supported: cairn keeps volumes in its store (the local driver)")
    if opts:
        raise Refused("--opt is not supported: cairn's volumes are plain directories in its store")
    info, _ = volumes.create(open_store(ctx), name, dict(label.partition("=")[::2] for label in labels),
                             anonymous=False)
    click.echo(info.name)


@volume_group.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only volume names.")
@click.pass_context
def ls_cmd(ctx, quiet):
    """List volumes."""
    from ..containers import volumes

    found = volumes.list_all(open_store(ctx))
    if not quiet:
        click.echo(f"{'DRIVER':<10}VOLUME NAME")
    for info in found:
        click.echo(info.name if quiet else f"{'local':<10}{info.name}")


@volume_group.command("inspect", epilog="\b\nExamples:\n  cairn volume inspect data\n"
                      "  cairn volume inspect -f '{{.Mountpoint}}' data")
@click.option("-f", "--format", "fmt", default=None, metavar="TEMPLATE", help="A Go template per volume.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect_cmd(ctx, fmt, names):
    """Show volumes as JSON, as docker volume inspect does."""
    from ..containers import volumes
    from .gotemplate import TemplateError, render

    store = open_store(ctx)
    found, missing = [], []
    for name in names:
        info = volumes.get(store, name)
        (missing.append(name) if info is None else found.append(info.inspect()))
    if fmt is None:
        click.echo(json.dumps(found, indent=4))
    for doc in found if fmt is not None else ():
        try:
            click.echo(render(fmt, doc))
        except TemplateError as err:
            raise UsageError(f"invalid --format: {err}") from None
    if missing:
        raise Failure("\n".join(f"Error response from daemon: get {n}: no such volume" for n in missing), 1)


@volume_group.command("rm")
@click.option("-f", "--force", is_flag=True, help="No error for a volume that does not exist.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rm_cmd(ctx, force, names):
    """Remove volumes; one a container uses is refused."""
    from ..containers import volumes

    store = open_store(ctx)
    errors = []
    for name in names:
        try:
            volumes.remove(store, name, force)
        except volumes.VolumeError as err:
            errors.append(f"Error response from daemon: {err}")
            continue
        click.echo(name)
    if errors:
        raise Failure("\n".join(errors), 1)


@volume_group.command("prune")
@click.option("-a", "--all", "include_named", is_flag=True, help="Remove all unused volumes, not just anonymous ones.")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_context
def prune_cmd(ctx, include_named, force):
    """Remove unused anonymous volumes (every unused volume with --all)."""
    from ..containers import volumes

    what = "local volumes" if include_named else "anonymous local volumes"
    if not force and not click.confirm(f"WARNING! This will remove {what} not used by at least one container.\n"
                                       "Are you sure you want to continue?", default=False):
        return
    removed, freed = volumes.prune(open_store(ctx), include_named)
    if removed:
        click.echo("Deleted Volumes:")
        for name in removed:
            click.echo(name)
        click.echo()
    click.echo(f"Total reclaimed space: {human_size(freed)}")
