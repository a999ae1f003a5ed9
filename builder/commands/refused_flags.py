"""docker's build and run flags whose meaning cannot hold here: each is refused (exit 2)
with a hint saying why, instead of click's bare "No such option". A few flags that ask for
what cairn always does are accepted and change nothing (no hint: build's --rm, --force-rm,
--compress and --disable-content-trust; a value named in the table, such as --isolation default). The README's table of
docker's flags lists every one; tests/test_docker_doc_commands.py runs them.

`@refused_build_options` and `@refused_run_options` add the flags to a command, hidden
from its --help (they are not cairn's), with no parameter reaching the command's function.
"""

from __future__ import annotations

import os

import click

from ..errors import Refused

NO_CPU_SET = "cairn does not pin containers to CPUs or weigh them: limit them with --cpus (run) or --cpu-quota/--cpu-period (build)"
NO_BLKIO = "cairn sets no block-I/O limits or weights (the cgroup io controller is not used)"
NO_NETWORKS = "cairn has no user-defined networks: a container is on the one bridge, none or host"
OWN_NAMESPACES = "every cairn container has its own namespaces; sharing the host's or another container's is not supported"
NO_ATTEST = "cairn makes no attestations (SLSA provenance, SBOM); only =false is accepted"
NO_EMULATION = "cairn runs the host's architecture only (no emulation)"

# flag names -> (takes a value, values accepted as a no-op, hint)
BUILD = {
    ("-c", "--cpu-shares"): (True, (), NO_CPU_SET),
    ("--cpuset-cpus",): (True, (), NO_CPU_SET),
    ("--cpuset-mems",): (True, (), NO_CPU_SET),
    ("--isolation",): (True, ("default",), "isolation technologies are for Windows containers; Linux has only 'default'"),
    ("--security-opt",): (True, (), "build takes no security options: use RUN --security=insecure with --allow security.insecure"),
    ("--squash",): (False, (), "cairn keeps every layer for its cache; --squash (experimental in docker) is not supported"),
    ("--annotation",): (True, (), "cairn writes no OCI annotations into the manifest"),
    ("--attest",): (True, ("type=provenance,disabled=true", "type=sbom,disabled=true"), NO_ATTEST),
    ("--provenance",): (True, ("false", "0"), NO_ATTEST),
    ("--sbom",): (True, ("false", "0"), NO_ATTEST),
    ("--builder",): (True, ("default",), "cairn has no buildx builder instances: it builds in this process"),
    ("-D", "--debug"): (False, (), "use cairn's global flag: cairn --debug build ..."),
    ("--disable-content-trust",): (False, (), None),
    ("--rm",): (False, (), None),
    ("--force-rm",): (False, (), None),
    ("--compress",): (False, (), None),
}

RUN = {
    ("-a", "--attach"): (True, (), "cairn run attaches stdout and stderr, and stdin with -i; choosing streams is not supported"),
    ("--annotation",): (True, (), "cairn's runtime takes no OCI annotations"),
    ("--blkio-weight",): (True, (), NO_BLKIO),
    ("--blkio-weight-device",): (True, (), NO_BLKIO),
    ("--device-read-bps",): (True, (), NO_BLKIO),
    ("--device-read-iops",): (True, (), NO_BLKIO),
    ("--device-write-bps",): (True, (), NO_BLKIO),
    ("--device-write-iops",): (True, (), NO_BLKIO),
    ("--cgroup-parent",): (True, (), "cairn run makes its cgroups under its own parent (build has --cgroup-parent)"),
    ("--cgroupns",): (True, ("private",), OWN_NAMESPACES),
    ("--cpu-period",): (True, (), "limit CPU with --cpus"),
    ("--cpu-quota",): (True, (), "limit CPU with --cpus"),
    ("--cpu-rt-period",): (True, (), "containers get no real-time scheduling"),
    ("--cpu-rt-runtime",): (True, (), "containers get no real-time scheduling"),
    ("-c", "--cpu-shares"): (True, (), NO_CPU_SET),
    ("--cpuset-cpus",): (True, (), NO_CPU_SET),
    ("--cpuset-mems",): (True, (), NO_CPU_SET),
    ("--detach-keys",): (True, (), "cairn run has no attach/detach: start with -d and read cairn logs"),
    ("--device-cgroup-rule",): (True, (), "give a device with --device (a rule would allow devices not in the container)"),
    ("--disable-content-trust",): (False, (), None),
    ("--domainname",): (True, (), "cairn sets only the host name (-h)"),
    ("--expose",): (True, (), "EXPOSE the port in the image, or publish it with -p"),
    ("--gpus",): (True, (), "cairn gives containers no GPUs"),
    ("--group-add",): (True, (), "give the group with -u USER:GROUP"),
    ("--ip",): (True, (), NO_NETWORKS),
    ("--ip6",): (True, (), NO_NETWORKS),
    ("--link",): (True, (), NO_NETWORKS),
    ("--link-local-ip",): (True, (), NO_NETWORKS),
    ("--mac-address",): (True, (), NO_NETWORKS),
    ("--network-alias",): (True, (), NO_NETWORKS),
    ("--ipc",): (True, ("private",), OWN_NAMESPACES),
    ("--pid",): (True, (), OWN_NAMESPACES),
    ("--uts",): (True, (), OWN_NAMESPACES),
    ("--userns",): (True, (), OWN_NAMESPACES),
    ("--isolation",): (True, ("default",), "isolation technologies are for Windows containers; Linux has only 'default'"),
    ("--kernel-memory",): (True, (), "cgroup v2 has no kernel memory limit (docker deprecated the flag)"),
    ("--log-driver",): (True, (), "cairn keeps a detached container's output in its store: read it with cairn logs"),
    ("--log-opt",): (True, (), "cairn keeps a detached container's output in its store: read it with cairn logs"),
    ("--memory-reservation",): (True, (), "cairn sets one memory limit: -m"),
    ("--memory-swap",): (True, (), "cairn sets one memory limit: -m"),
    ("--memory-swappiness",): (True, (), "cgroup v2 has no per-container swappiness"),
    ("--oom-kill-disable",): (False, (), "a container over its -m limit is OOM-killed; disabling it is not supported"),
    ("--oom-score-adj",): (True, (), "cairn does not adjust containers' OOM scores"),
    ("--platform",): (True, (f"linux/{os.uname().machine}",), NO_EMULATION),
    ("-q", "--quiet"): (False, (), "cairn run prints no pull progress to suppress; pull first with cairn pull"),
    ("--restart",): (True, ("no",), "cairn has no daemon to restart containers"),
    ("--runtime",): (True, ("runc",), "cairn has one bundled runtime"),
    ("--shm-size",): (True, (), "/dev/shm's size is fixed for cairn run (build has --shm-size)"),
    ("--sig-proxy",): (True, (), "choosing whether cairn run passes its signals on is not supported"),
    ("--storage-opt",): (True, (), "overlayfs gives a container no size limit"),
    ("--sysctl",): (True, (), "cairn sets no sysctls in containers"),
    ("--use-api-socket",): (True, (), "cairn has no Engine API socket to give a container"),
    ("--volume-driver",): (True, ("local",), "cairn keeps volumes in its store (the local driver)"),
    ("--volumes-from",): (True, (), "mount the volumes by name: --mount source=NAME,target=PATH"),
}


def _machine_aliases(values: tuple[str, ...]) -> tuple[str, ...]:
    alias = {"x86_64": "amd64", "aarch64": "arm64"}
    return values + tuple(v.replace(m, a) for v in values for m, a in alias.items() if m in v)


def _option(names: tuple[str, ...], takes_value: bool, no_ops: tuple[str, ...], hint: str | None):
    flag = names[-1]

    def check(ctx, param, value):
        given = [value] if not param.multiple else list(value)
        for one in given:
            if one in (None, False) or (takes_value and one.lower() in _machine_aliases(no_ops)):
                continue
            if hint is not None:
                raise Refused(f"{flag}{'=' + one if takes_value else ''} is not supported: {hint}")
        return value

    if takes_value:
        return click.option(*names, multiple=True, hidden=True, expose_value=False, callback=check)
    return click.option(*names, is_flag=True, hidden=True, expose_value=False, callback=check)


def _apply(table):
    def decorate(f):
        for names, (takes_value, no_ops, hint) in table.items():
            f = _option(names, takes_value, no_ops, hint)(f)
        return f
    return decorate


refused_build_options = _apply(BUILD)
refused_run_options = _apply(RUN)
