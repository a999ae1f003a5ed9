"""`cairn version` and `cairn --version`, laid out as docker's: a Client section and a
Server section (the engine is cairn itself, in the same process: no daemon)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import cli

if TYPE_CHECKING:  # (every command imports this module: the template engine loads for version only)
    from .gotemplate import Record

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64"}


def cairn_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cairn")
    except PackageNotFoundError:
        return "unknown"


def git_commit() -> str:
    """The source checkout's short commit, when cairn runs from one."""
    import subprocess  # (every command imports this module: only version pays for these)

    source = Path(__file__).resolve().parents[2]
    if not (source / ".git").exists():
        return "unknown"
    try:
        res = subprocess.run(["git", "-C", str(source), "rev-parse", "--short=7", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return res.stdout.strip() if res.returncode == 0 else "unknown"


def version_info(root: str) -> Record:
    from .gotemplate import Record

    uname = os.uname()
    common = {"Version": cairn_version(), "PythonVersion": ".".join(map(str, sys.version_info[:3])),
              "GitCommit": git_commit(), "Os": sys.platform, "Arch": _ARCH.get(uname.machine, uname.machine)}
    client = Record("*command.clientVersion", {"Platform": {"Name": "cairn"}, **common})
    server = Record("*types.Version", {"Platform": {"Name": "cairn"}, **common, "KernelVersion": uname.release,
                                       "Root": root, "Rootless": os.geteuid() != 0})
    return Record("command.versionInfo", {"Client": client, "Server": server})


_TEMPLATE = """\
Client:
 Version:           {{.Client.Version}}
 Python version:    {{.Client.PythonVersion}}
 Git commit:        {{.Client.GitCommit}}
 OS/Arch:           {{.Client.Os}}/{{.Client.Arch}}

Server:
 Engine:
  Version:          {{.Server.Version}}
  Python version:   {{.Server.PythonVersion}}
  Git commit:       {{.Server.GitCommit}}
  OS/Arch:          {{.Server.Os}}/{{.Server.Arch}}
  Kernel version:   {{.Server.KernelVersion}}
  Store:            {{.Server.Root}}
  Rootless:         {{.Server.Rootless}}"""


@cli.command("version")
@click.option("-f", "--format", "fmt", metavar="STRING",
              help="Format output using a Go template ('json' for JSON).")
@click.pass_context
def version_cmd(ctx, fmt):
    """Show the cairn version information."""
    from .formatter import echo_record

    echo_record(fmt, version_info(ctx.find_root().obj["root"]), _TEMPLATE)


def print_version(ctx: click.Context, _param, value: bool) -> None:
    """`cairn --version`: `cairn version 0.1.0, build 7329266`, as `docker --version` prints."""
    if value and not ctx.resilient_parsing:
        click.echo(f"cairn version {cairn_version()}, build {git_commit()}")
        ctx.exit()
