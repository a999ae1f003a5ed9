"""`cairn info`: how this user's cairn runs: root or rootless, the user namespace's id
mapping, the cgroup version and whether limits can be set, the network backend, the store."""

from __future__ import annotations

import json
import os
import shutil

import click

from . import cli


def facts(root: str) -> dict[str, str]:
    from runtime import rootless_cgroup, userns

    rootless = os.geteuid() != 0 or userns.active() is not None
    out = {"Mode": "rootless" if rootless else "root"}
    if rootless:
        mapping, warning = (userns.active(), None) if userns.active() else userns.plan()
        out["User"] = f"{mapping.user} (uid {mapping.host_uid}, gid {mapping.host_gid})"
        out["ID Mapping"] = mapping.describe() + (" (single id: no subordinate range)" if mapping.single else "")
        if warning:
            out["Warning"] = warning
    version = rootless_cgroup.version()
    out["Cgroup Version"] = str(version)
    if rootless:
        base = rootless_cgroup.delegated()
        out["Cgroup Limits"] = f"yes (delegated: {base})" if base else "no (--memory, --cpus and --pids-limit are refused)"
    else:
        out["Cgroup Limits"] = "yes"
    if rootless:
        slirp = shutil.which("slirp4netns")
        out["Network"] = (f"slirp4netns ({slirp}); none; host" if slirp
                          else "none; host (the default needs slirp4netns: Debian's slirp4netns package)")
    else:
        out["Network"] = f"bridge {os.environ.get('CAIRN_BRIDGE', 'cairn0')} (veth, NAT); none; host"
    out["Store"] = root
    return out


@cli.command("info")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@click.pass_context
def info_cmd(ctx, fmt: str) -> None:
    """Show how cairn runs here: root or rootless, id mapping, cgroups, network, store."""
    data = facts(ctx.find_root().obj["root"])
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        click.echo(f"{key}: {value}")
