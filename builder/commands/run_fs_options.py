"""`cairn run`'s filesystem and privilege options (docker's): --read-only, --tmpfs, --mount,
--cap-add, --cap-drop, --privileged, --device, --security-opt.

`fs_options` adds them to the command and hands the callback one `fs` argument (the
RunRequest fields, parsed), so run.py's signature grows by one name only.
"""

from __future__ import annotations

import click

from .option_group import option_group

_OPTIONS = (
    click.option("--read-only", "read_only", is_flag=True, help="Mount the container's root filesystem read-only."),
    click.option("--tmpfs", "tmpfs", multiple=True, metavar="PATH[:OPTS]",
                 help="Mount a tmpfs (options: size=, mode=, uid=, gid=, exec, suid, ro)."),
    click.option("--mount", "mounts", multiple=True, metavar="type=bind|tmpfs|volume,...",
                 help="Attach a bind mount, tmpfs or volume (docker's CSV keys)."),
    click.option("--cap-add", "cap_add", multiple=True, metavar="CAP", help="Add a Linux capability (or ALL)."),
    click.option("--cap-drop", "cap_drop", multiple=True, metavar="CAP", help="Drop a Linux capability (or ALL)."),
    click.option("--privileged", is_flag=True,
                 help="Take the sandbox off: every capability, no seccomp, every device allowed."),
    click.option("--device", "devices", multiple=True, metavar="HOST[:CONTAINER[:rwm]]",
                 help="Give the container a host device."),
    click.option("--security-opt", "security_opt", multiple=True, metavar="OPT",
                 help="no-new-privileges[:true|false], seccomp=unconfined, systempaths=unconfined, ..."),
)
_KEYS = ("read_only", "tmpfs", "mounts", "cap_add", "cap_drop", "privileged", "devices", "security_opt")


fs_options = option_group("fs", _OPTIONS, _KEYS)


def fs_request_fields(raw: dict) -> dict:
    """The RunRequest fields for the parsed options (UsageError on a bad one)."""
    from ..containers.run_privileges import capabilities, parse_device, parse_security_opts

    mounts = ()
    if raw["tmpfs"] or raw["mounts"]:  # (only then: a run without them loads no run_mounts)
        from ..containers.run_mounts import parse_mount, parse_tmpfs

        mounts = tuple(parse_tmpfs(t) for t in raw["tmpfs"]) + tuple(parse_mount(m) for m in raw["mounts"])
    cap_add, cap_drop = tuple(raw["cap_add"]), tuple(raw["cap_drop"])
    capabilities(cap_add, cap_drop)  # unknown names are refused before anything is made
    return {"read_only": raw["read_only"], "mounts": mounts, "cap_add": cap_add, "cap_drop": cap_drop,
            "privileged": raw["privileged"], "devices": tuple(parse_device(d) for d in raw["devices"]),
            "security": parse_security_opts(tuple(raw["security_opt"]))}
