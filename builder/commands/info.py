"""`cairn info`: how this user's cairn runs: root or rootless, the user namespace's id
mapping, the cgroup version and whether limits can be set, the network backend, the store.
`-f` takes a Go template ('json' for JSON), as docker info's does."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import click

from . import cli

if TYPE_CHECKING:  # (every command imports this module: the template engine loads for info only)
    from .gotemplate import Record


def info_record(root: str) -> Record:
    from runtime import rootless_cgroup, userns

    from .gotemplate import Record

    rootless = os.geteuid() != 0 or userns.active() is not None
    out: dict = {"Mode": "rootless" if rootless else "root", "Rootless": rootless}
    if rootless:
        mapping, warning = (userns.active(), None) if userns.active() else userns.plan()
        out["User"] = f"{mapping.user} (uid {mapping.host_uid}, gid {mapping.host_gid})"
        out["IDMapping"] = mapping.describe() + (" (single id: no subordinate range)" if mapping.single else "")
        out["Warning"] = warning or ""
    out["CgroupVersion"] = str(rootless_cgroup.version())
    if rootless:
        base = rootless_cgroup.delegated()
        out["CgroupLimits"] = f"yes (delegated: {base})" if base else "no (--memory, --cpus and --pids-limit are refused)"
        slirp = shutil.which("slirp4netns")
        out["Network"] = (f"slirp4netns ({slirp}); none; host" if slirp
                          else "none; host (the default needs slirp4netns: Debian's slirp4netns package)")
    else:
        out["CgroupLimits"] = "yes"
        out["Network"] = f"bridge {os.environ.get('CAIRN_BRIDGE', 'cairn0')} (veth, NAT); none; host"
    out["Store"] = root
    return Record("system.Info", out)


_TEMPLATE = """\
Mode: {{.Mode}}
{{- if .Rootless}}
User: {{.User}}
ID Mapping: {{.IDMapping}}
{{- if .Warning}}
Warning: {{.Warning}}
{{- end}}
{{- end}}
Cgroup Version: {{.CgroupVersion}}
Cgroup Limits: {{.CgroupLimits}}
Network: {{.Network}}
Store: {{.Store}}"""


@cli.command("info")
@click.option("-f", "--format", "fmt", metavar="STRING", help="Format output using a Go template ('json' for JSON).")
@click.pass_context
def info_cmd(ctx, fmt: str | None) -> None:
    """Show how cairn runs here: root or rootless, id mapping, cgroups, network, store."""
    from .formatter import echo_record

    echo_record(fmt, info_record(ctx.find_root().obj["root"]), _TEMPLATE)
