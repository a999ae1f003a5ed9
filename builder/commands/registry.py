"""Registry commands: pull, push, login, logout."""

from __future__ import annotations

import sys

import click

from . import cli
from .common import open_store
from .registry_flags import echo_err, make_options, push_image, registry_options, write_push_metadata


@cli.command("pull")
@click.option("--platform", default=None, metavar="OS/ARCH[/VARIANT]", help="From an index, take this platform.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image reference.")
@registry_options
@click.argument("ref")
@click.pass_context
def pull_cmd(ctx, platform, quiet, insecure, registry_timeout, ref):
    """Download an image from a registry into the store."""
    from ..image.reference import Reference, parse_reference
    from ..registry.pull import parse_platform, pull

    parsed = parse_reference(ref)
    parse_platform(platform)
    store = open_store(ctx)
    if not quiet:
        echo_err(f"{parsed.tag}: Pulling from {Reference(parsed.domain, parsed.path).familiar}"
             if parsed.digest is None else f"Pulling {parsed.familiar}")
    result = pull(store, parsed, make_options(insecure, registry_timeout), platform, log=(lambda line: None) if quiet else echo_err)
    if not quiet:
        echo_err(f"Digest: {result.digest}")
        echo_err(f"Status: {'Image is up to date' if result.up_to_date else 'Downloaded newer image'} "
             f"for {parsed.familiar}")
    click.echo(str(parsed))


@cli.command("push")
@click.option("--compression", type=click.Choice(["zstd", "gzip", "none"]), default="zstd", show_default=True,
              help="How layers built here are compressed (gzip for clients older than docker 23).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the manifest digest.")
@click.option("--metadata-file", default=None, type=click.Path(dir_okay=False),
              help="Write the pushed reference and manifest digest as JSON.")
@registry_options
@click.argument("ref")
@click.argument("target", required=False)
@click.pass_context
def push_cmd(ctx, compression, quiet, metadata_file, insecure, registry_timeout, ref, target):
    """Upload an image to a registry: `cairn push REF`, or `cairn push IMAGE REF`."""
    from ..image.reference import parse_reference
    from ..store import images

    dest = parse_reference(target or ref)
    if dest.digest is not None:
        from ..errors import UsageError

        raise UsageError(f"cannot push to a digest reference ({dest.familiar}); give a tag")
    store = open_store(ctx)
    image = images.resolve(store, ref)
    result = push_image(store, image, dest, make_options(insecure, registry_timeout), compression, quiet)
    if metadata_file:
        write_push_metadata(metadata_file, dest, result)


@cli.command("login")
@click.option("-u", "--username", default=None, help="User name.")
@click.option("-p", "--password", default=None, help="Password (insecure: prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@registry_options
@click.argument("registry", required=False, default="docker.io")
@click.pass_context
def login_cmd(ctx, username, password, password_stdin, insecure, registry_timeout, registry):
    """Check credentials with a registry and save them in docker's config.json."""
    from ..errors import UsageError
    from ..registry import credentials
    from ..registry.client import RegistryClient

    domain = _domain(registry)
    if password and password_stdin:
        raise UsageError("--password and --password-stdin cannot be used together")
    if password_stdin:
        if not username:
            raise UsageError("--password-stdin needs --username")
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        echo_err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    if not username:
        username = click.prompt("Username")
    if not password:
        if not sys.stdin.isatty():
            raise UsageError("no password given: use --password-stdin")
        password = click.prompt("Password", hide_input=True)
    creds = credentials.Credentials(username, password)
    with RegistryClient(domain, make_options(insecure, registry_timeout), creds) as client:
        client.check_login()
    where = credentials.save(domain, creds)
    echo_err(f"Credentials saved in {where}")
    click.echo("Login Succeeded")


@cli.command("logout")
@click.argument("registry", required=False, default="docker.io")
def logout_cmd(registry):
    """Forget a registry's saved credentials."""
    from ..registry import credentials

    domain = _domain(registry)
    if credentials.erase(domain):
        click.echo(f"Removing login credentials for {domain}")
    else:
        click.echo(f"Not logged in to {domain}")


def _domain(text: str) -> str:
    """`https://index.docker.io/v1/`, `localhost:5000`, `ghcr.io` -> the registry's domain."""
    from ..errors import UsageError
    from ..image.reference import _DOMAIN_RE

    host = text.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    if host in ("index.docker.io", "registry-1.docker.io"):
        host = "docker.io"
    if not _DOMAIN_RE.match(host):
        raise UsageError(f"invalid registry {text!r}")
    return host
