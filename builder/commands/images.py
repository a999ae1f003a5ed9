"""Store commands: import, images, tag, rmi, save, load, prune, store check (inspect: inspect.py)."""

from __future__ import annotations

import os

import click

from . import cli
from .common import Failure, human_size, open_store


@cli.command("import")
@click.option("-c", "--change", "changes", multiple=True, metavar="INSTRUCTION",
              help="Apply a Dockerfile instruction to the image config (CMD, ENV, ...).")
@click.argument("rootfs", type=click.Path(dir_okay=False))
@click.argument("ref")
@click.pass_context
def import_cmd(ctx, changes, rootfs, ref):
    """Make a one-layer image from a root filesystem tarball."""
    from ..archive.rootfs_import import import_rootfs

    image = import_rootfs(open_store(ctx), rootfs, ref, list(changes))
    click.echo(str(image.id))


@cli.command("images")
@click.option("-a", "--all", "show_all", is_flag=True,
              help="Show all images (images have no intermediate layers here: the same as without).")
@click.option("--digests", is_flag=True, help="Show digests.")
@click.option("-f", "--filter", "filters", multiple=True, metavar="FILTER",
              help="Filter output based on conditions provided (dangling=true|false, reference=PATTERN, "
                   "label=KEY[=VALUE], before=IMAGE, since=IMAGE).")
@click.option("--format", "fmt", metavar="STRING",
              help="Format output using a Go template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]")
@click.pass_context
def images_cmd(ctx, show_all, digests, filters, fmt, no_trunc, quiet, repository):
    """List images."""
    from .container_list import parse_filters
    from .formatter import echo_rows, prepare
    from .image_list import (
        DEFAULT_TABLE,
        DIGEST_TABLE,
        HEADERS,
        ImageFilter,
        image_records,
    )

    if fmt:
        prepare(fmt)
    wanted = parse_filters(filters)
    if repository:
        wanted.setdefault("reference", []).append(repository)
    store = open_store(ctx)
    need_digest = digests or "{{.Digest}}" in (fmt or "")
    records = image_records(store, ImageFilter(wanted, store), no_trunc, need_digest)
    default = DIGEST_TABLE if digests else DEFAULT_TABLE
    if not fmt or fmt.strip() == "table":
        fmt = "{{.ID}}" if quiet else default  # docker: one ID per name, as the table has rows
    elif digests and fmt.startswith("table") and "{{.Digest}}" not in fmt:
        fmt += "\\t{{.Digest}}"
    echo_rows(fmt, records, HEADERS, default)


@cli.command("tag")
@click.argument("source")
@click.argument("target")
@click.pass_context
def tag_cmd(ctx, source, target):
    """Give an image another name."""
    from ..store import images

    images.tag_image(open_store(ctx), source, target)


@cli.command("rmi")
@click.option("-f", "--force", is_flag=True, help="Remove an image ID with several tags.")
@click.argument("refs", nargs=-1, required=True)
@click.pass_context
def rmi_cmd(ctx, force, refs):
    """Remove image names; an image with no name left is deleted (see `cairn prune`)."""
    from ..store import images

    store = open_store(ctx)
    for ref in refs:
        for line in images.remove_image(store, ref, force):
            click.echo(line)


@cli.command("save")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Archive to write.")
@click.option("--format", "fmt", type=click.Choice(["docker", "oci"]), default="docker", show_default=True)
@click.argument("refs", nargs=-1, required=True)
@click.pass_context
def save_cmd(ctx, output, fmt, refs):
    """Write images to a docker-archive (for `docker load`) or an OCI layout tar."""
    from ..archive.save import save

    save(open_store(ctx), list(refs), output, fmt)


@cli.command("load")
@click.option("-i", "--input", "path", required=True, type=click.Path(dir_okay=False), help="Archive to read.")
@click.pass_context
def load_cmd(ctx, path):
    """Read images from a docker-archive or an OCI layout tar."""
    from ..archive.load import load

    for item in load(open_store(ctx), path):
        if item.refs:
            for ref in item.refs:
                click.echo(f"Loaded image: {ref.familiar}")
        else:
            click.echo(f"Loaded image ID: {item.image.id}")


@cli.command("prune")
@click.pass_context
def prune_cmd(ctx):
    """Remove blobs and snapshots that no image or cache record uses, and the spare
    cgroups `run` keeps ready."""
    from ..store.maintenance import prune

    res = prune(open_store(ctx))
    if os.geteuid() == 0:
        from runtime.cgroups import Cgroup

        Cgroup.drain_pool()
    click.echo(f"Deleted {res.blobs} blobs and {res.snapshots} snapshots; reclaimed {human_size(res.bytes)}")


@cli.group("store")
def store_group():
    """Look after the local store."""


@store_group.command("check")
@click.option("-v", "--verbose", is_flag=True, help="Also list unreferenced files.")
@click.pass_context
def store_check_cmd(ctx, verbose):
    """Verify every blob against its digest, every snapshot a COPY made against its
    diff_id, and every reference the store records."""
    from ..store.maintenance import check

    report = check(open_store(ctx))
    for line in report.problems:
        click.echo(f"problem: {line}")
    if verbose:
        for line in report.unreferenced:
            click.echo(f"unreferenced: {line}")
    click.echo(f"{report.blobs} blobs, {report.images} images, {report.snapshots} snapshots checked; "
               f"{len(report.problems)} problems; {len(report.unreferenced)} unreferenced files"
               + (" (cairn prune removes them)" if report.unreferenced else ""))
    if not report.ok:
        raise Failure("the store has problems", 1)
