"""What the commands that talk to a registry share: the --insecure-registry and
--registry-timeout flags, the options they make, and a push reported as docker reports it."""

from __future__ import annotations

import sys

import click


def registry_options(f):
    """--insecure-registry and --registry-timeout, shared by every command that talks to a registry."""
    f = click.option("--registry-timeout", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
                     help="Give up on a registry that sends nothing for this long (default 60, "
                          "$CAIRN_REGISTRY_TIMEOUT).")(f)
    f = click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST[:PORT]",
                     help="Allow plain HTTP to this registry (localhost and 127.0.0.1 always are).")(f)
    return f


def make_options(insecure, timeout):
    from ..registry.options import RegistryOptions

    return RegistryOptions.from_env(tuple(insecure), timeout)


def echo_err(line: str) -> None:
    click.echo(line, err=True)


def push_image(store, image, dest, options, compression: str, quiet: bool):
    from ..registry.push import push

    if not quiet:
        echo_err(f"The push refers to repository [{dest.repository}]")
    result = push(store, image, dest, options, compression, log=(lambda line: None) if quiet else echo_err)
    if quiet:
        click.echo(str(result.digest))
    else:
        click.echo(f"{dest.tag}: digest: {result.digest} size: {result.size}")
    sys.stdout.flush()
    return result


def write_push_metadata(path: str, dest, result) -> None:
    import json

    with open(path, "w") as f:
        json.dump({"image.name": str(dest), "containerimage.digest": str(result.digest),
                   "pushed": {"uploaded": result.uploaded, "mounted": result.mounted,
                              "existing": result.existing}}, f, indent=2)


