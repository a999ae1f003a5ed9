"""`cairn inspect`: containers and images as docker's JSON, or through a Go template (-f)."""

from __future__ import annotations

import json

import click

from ..errors import CairnError
from . import cli
from .common import Failure, open_store


def image_doc(store, text: str) -> dict:
    from ..image.reference import parse_reference
    from ..store import images

    image = images.resolve(store, text)
    _manifest, config = images.load_documents(store, image)
    doc = config.doc
    entry = {
        "Id": str(image.id),
        "RepoTags": [parse_reference(t).familiar for t in image.tags],
        "ManifestDigest": str(image.manifest),
        "Created": doc.get("created"),
        "Author": doc.get("author", ""),
        "Architecture": doc.get("architecture"),
        "Variant": doc.get("variant"),
        "Os": doc.get("os"),
        "Config": doc.get("config") or {},
        "RootFS": {"Type": "layers", "Layers": doc["rootfs"]["diff_ids"]},
        "Layers": [layer.descriptor.to_json() | {"diffID": str(layer.diff_id)} for layer in image.layers],
        "History": doc.get("history", []),
        "Size": image.size,
    }
    return {k: v for k, v in entry.items() if v is not None}


def _find(store, name: str, kind: str | None) -> dict | None:
    """Containers first (by name, ID or ID prefix), then images, as docker looks."""
    if kind in (None, "container"):
        from ..containers.dirs import ContainerNotFound, find_container
        from ..containers.inspect import container_doc

        try:
            return container_doc(store, find_container(store, name))
        except ContainerNotFound:
            pass
    if kind in (None, "image"):
        from ..store.images import ImageNotFound

        try:
            return image_doc(store, name)
        except (ImageNotFound, ValueError):
            pass
        except CairnError as err:
            if "ambiguous" in str(err):
                raise
    return None


@cli.command("inspect")
@click.option("--type", "kind", type=click.Choice(["container", "image"]), default=None,
              help="Only look for this kind of object.")
@click.option("-f", "--format", "fmt", default=None, metavar="TEMPLATE",
              help="Print each object through a Go template ('{{.State.Status}}').")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect_cmd(ctx, kind, fmt, names):
    """Show containers and images as JSON (docker's shape)."""
    from .gotemplate import TemplateError, parse, render

    if fmt is not None:
        if fmt.strip() == "json":
            fmt = "{{json .}}"
        try:
            parse(fmt)  # a bad template fails before any output
        except TemplateError as err:
            raise Failure(str(err), 1) from None
    store = open_store(ctx)
    found, missing = [], []
    for name in names:
        doc = _find(store, name, kind)
        if doc is None:
            missing.append(name)
        else:
            found.append(doc)
    if fmt is None:
        click.echo(json.dumps(found, indent=4))
    else:
        for doc in found:
            try:
                click.echo(render(fmt, doc))
            except TemplateError as err:
                raise Failure(str(err), 1) from None
    if missing:
        what = {"container": "container", "image": "image"}.get(kind or "", "object")
        raise Failure("\n".join(f"Error: No such {what}: {name}" for name in missing), 1)
