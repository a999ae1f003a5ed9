"""POST /containers/create's JSON body (docker's Config with its HostConfig) as the RunRequest
that `cairn run` would make from the same flags. Fields whose meaning cannot hold here are
refused (400, with the reason), never ignored in silence."""

from __future__ import annotations

import re

from ..containers.request import RunRequest, Volume, dns_search, dns_server
from ..errors import UsageError

NETWORKS = {"": "bridge", "default": "bridge", "bridge": "bridge", "host": "host", "none": "none"}
# HostConfig fields with a meaning cairn does not give: refused when set to anything but empty
_REFUSED = {"VolumesFrom": "--volumes-from", "Links": "--link", "Devices": "--device (use cairn run)",
            "DeviceRequests": "--gpus", "IpcMode": "--ipc", "PidMode": "--pid", "UTSMode": "--uts",
            "UsernsMode": "--userns", "CgroupParent": "--cgroup-parent", "VolumeDriver": "--volume-driver",
            "Runtime": "--runtime", "Isolation": "--isolation"}
# fields cairn does not apply whose silence would grant more than the client asked (a looser
# limit, a wider view): refused when set (0 and -1 are docker's "not set")
_LIMITS = {"CpuShares": "--cpu-shares", "CpusetCpus": "--cpuset-cpus", "CpusetMems": "--cpuset-mems",
           "BlkioWeight": "--blkio-weight", "BlkioWeightDevice": "--blkio-weight-device",
           "BlkioDeviceReadBps": "--device-read-bps", "BlkioDeviceWriteBps": "--device-write-bps",
           "BlkioDeviceReadIOps": "--device-read-iops", "BlkioDeviceWriteIOps": "--device-write-iops",
           "MemorySwap": "--memory-swap", "MemoryReservation": "--memory-reservation",
           "KernelMemory": "--kernel-memory", "OomScoreAdj": "--oom-score-adj", "ShmSize": "--shm-size",
           "Sysctls": "--sysctl", "MaskedPaths": "MaskedPaths", "ReadonlyPaths": "ReadonlyPaths",
           "DeviceCgroupRules": "--device-cgroup-rule", "GroupAdd": "--group-add", "Mounts": "--mount (use -v)",
           "CpuRealtimePeriod": "--cpu-rt-period", "CpuRealtimeRuntime": "--cpu-rt-runtime"}


def _strings(value, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{what} must be a list of strings")
    return tuple(value)


def client_env(value) -> tuple[str, ...]:
    """Env as a client sends it: KEY=VALUE items. A bare KEY is one the client could not fill
    from its own environment: it is dropped, never filled from the server's (cairn run's -e
    KEY would read our environment, which is the server's here)."""
    return tuple(item for item in _strings(value, "Env") if "=" in item)


_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,62})\Z")


def _hostname(value) -> str:
    if not value:
        return ""
    if not isinstance(value, str) or not _HOSTNAME.match(value):
        raise UsageError(f"invalid hostname {str(value)[:80]!r}: letters, digits, '.' and '-', at most 63")
    return value


def _int(value, what: str) -> int | None:
    if value in (None, 0, -1):
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"{what} must be a positive number")
    return value


def _ports(bindings) -> tuple:
    from runtime.portproxy import PortMapping

    out = []
    for key, hosts in (bindings or {}).items():
        port, _, proto = str(key).partition("/")
        for host in hosts or [{}]:
            host = host if isinstance(host, dict) else {}
            host_port = str(host.get("HostPort") or "")
            if not host_port:
                raise UsageError(f"-p {key}: cairn publishes on a host port you give (-p HOSTPORT:{port})")
            ip = str(host.get("HostIp") or "0.0.0.0")
            try:
                out.append(PortMapping.parse(f"{ip}:{host_port.partition('-')[0]}:{port}/{proto or 'tcp'}"))
            except ValueError as err:
                raise UsageError(str(err)) from None
    return tuple(out)


def _tmpfs(tmpfs) -> tuple:
    from ..containers.run_mounts import parse_tmpfs

    if not isinstance(tmpfs or {}, dict):
        raise UsageError("Tmpfs must be an object of path: options")
    return tuple(parse_tmpfs(f"{path}:{opts}" if opts else path) for path, opts in (tmpfs or {}).items())


def _binds(binds) -> tuple:
    vols = []
    for text in _strings(binds, "Binds"):
        source = text.split(":", 1)[0]
        if "/" in source and not source.startswith("/"):
            raise UsageError(f"invalid bind {text!r}: the source must be an absolute host path")
        vols.append(Volume.parse(text))
    return tuple(vols)


def _anonymous_volumes(volumes, binds: tuple) -> tuple:
    """Config.Volumes ({"/data": {}}: `docker run -v /data`): an anonymous volume at each path
    no Bind covers, as `cairn run -v /data` makes."""
    if volumes is None:
        return ()
    if not isinstance(volumes, dict):
        raise UsageError("Volumes must be an object of path: {}")
    covered = {v.destination for v in binds}
    return tuple(Volume.parse(path) for path in volumes if str(path) not in covered)


def _dns_options(value) -> tuple[str, ...]:
    options = _strings(value, "DnsOptions")
    for option in options:
        if not option or any(c.isspace() or not c.isprintable() for c in option):
            raise UsageError(f"invalid DnsOptions entry {option!r}: one resolv.conf option, as ndots:2")
    return options


def _extra_hosts(value) -> tuple[tuple[str, str], ...]:
    hosts = _strings(value, "ExtraHosts")
    if not hosts:
        return ()
    from ..containers.ipam import bridge_config
    from ..executor.sandbox import parse_add_host

    gateway = str(bridge_config().gateway)
    return tuple(parse_add_host(text, gateway) for text in hosts)


def _security(value):
    """SecurityOpt as `cairn run --security-opt` reads it, except that a seccomp profile comes as
    its JSON (docker's client reads the file and sends the text): a path would name a file of the
    server's host, which no request may read."""
    from dataclasses import replace

    from ..bounded import loads_json
    from ..containers.run_privileges import MAX_PROFILE, parse_security_opts, seccomp_profile
    from runtime.spec import DEFAULT_CAPABILITIES

    texts, profile = [], None
    for text in _strings(value, "SecurityOpt"):
        key, _, given = text.partition("=")
        if key != "seccomp" or given in ("unconfined", "", "default", "builtin"):
            texts.append(text)
        elif not given.lstrip().startswith("{") or len(given) > MAX_PROFILE:
            raise UsageError("SecurityOpt seccomp=: send the profile's JSON (as docker's client does), "
                             "never a path: the server reads no file a request names")
        else:
            profile = loads_json(given, "the seccomp profile", UsageError)
            seccomp_profile(profile, DEFAULT_CAPABILITIES)
    security = parse_security_opts(tuple(texts))
    return replace(security, seccomp=True, seccomp_profile=profile) if profile is not None else security


def _ulimits(value) -> tuple:
    from ..executor.run_resources import parse_ulimit

    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(u, dict) for u in value):
        raise UsageError("Ulimits must be a list of {Name, Soft, Hard}")
    return tuple(parse_ulimit(f"{u.get('Name')}={u.get('Soft')}:{u.get('Hard')}") for u in value)


def _cpus(host: dict) -> float | None:
    """NanoCpus, or docker's --cpu-quota/--cpu-period (the same limit: quota/period CPUs)."""
    nano = _int(host.get("NanoCpus"), "NanoCpus")
    quota, period = _int(host.get("CpuQuota"), "CpuQuota"), _int(host.get("CpuPeriod"), "CpuPeriod")
    if quota:
        cpus = quota / (period or 100_000)
        return min(cpus, nano / 1e9) if nano else cpus
    if period and not nano:
        raise UsageError("CpuPeriod without CpuQuota: cairn sets a limit only from both (or NanoCpus)")
    return nano / 1e9 if nano else None


def _entrypoint(value) -> tuple[str | None, tuple[str, ...]]:
    """docker's Entrypoint list as cairn's one entrypoint word plus leading arguments."""
    if value is None:
        return None, ()
    if isinstance(value, str):
        value = [value]
    words = _strings(value, "Entrypoint")
    if not words or words == ("",):
        return "", ()
    return words[0], words[1:]


def run_request(body: dict, name: str = "") -> RunRequest:
    host = body.get("HostConfig") or {}
    if not isinstance(host, dict):
        raise UsageError("HostConfig must be an object")
    for key, flag in _REFUSED.items():
        if host.get(key):
            raise UsageError(f"HostConfig.{key} ({flag}) is not supported by cairn serve")
    for key, flag in _LIMITS.items():
        if host.get(key) not in (None, 0, -1, "", [], {}):
            raise UsageError(f"HostConfig.{key} ({flag}) is not supported by cairn serve: "
                             "a container without it would have more than was asked")
    restart = host.get("RestartPolicy") or {}
    if not isinstance(restart, dict):
        raise UsageError("HostConfig.RestartPolicy must be an object ({\"Name\": ...})")
    policy = restart.get("Name") or "no"
    if policy != "no":
        raise UsageError(f"--restart {policy}: cairn serve does not restart containers by itself")
    if not isinstance(body.get("Image"), str) or not body["Image"]:
        raise UsageError("no image given (Config.Image)")
    network = "none" if body.get("NetworkDisabled") else NETWORKS.get(host.get("NetworkMode") or "")
    if network is None:
        raise UsageError(f"network {host.get('NetworkMode')!r}: cairn has bridge, host and none")
    entrypoint, leading = _entrypoint(body.get("Entrypoint"))
    command = _strings(body.get("Cmd"), "Cmd")
    if entrypoint:
        command = leading + command
    labels = body.get("Labels") or {}
    if not isinstance(labels, dict):
        raise UsageError("Labels must be an object")
    binds = _binds(host.get("Binds"))
    return RunRequest(
        image=body["Image"], command=command, entrypoint=entrypoint, env=client_env(body.get("Env")),
        volumes=binds + _anonymous_volumes(body.get("Volumes"), binds), workdir=str(body.get("WorkingDir") or ""), user=str(body.get("User") or ""),
        network=network, ports=_ports(host.get("PortBindings")) if network == "bridge" else (),
        interactive=bool(body.get("OpenStdin")), tty=bool(body.get("Tty")), init=bool(host.get("Init")),
        hostname=_hostname(body.get("Hostname")), memory=_int(host.get("Memory"), "Memory"),
        cpus=_cpus(host), pids_limit=_int(host.get("PidsLimit"), "PidsLimit"),
        remove=bool(host.get("AutoRemove")), name=name, labels=tuple((str(k), str(v)) for k, v in labels.items()),
        publish_all=bool(host.get("PublishAllPorts")), stop_signal=str(body.get("StopSignal") or ""),
        stop_timeout=body.get("StopTimeout") if isinstance(body.get("StopTimeout"), int) else None,
        read_only=bool(host.get("ReadonlyRootfs")), mounts=_tmpfs(host.get("Tmpfs")),
        cap_add=_strings(host.get("CapAdd"), "CapAdd"), cap_drop=_strings(host.get("CapDrop"), "CapDrop"),
        privileged=bool(host.get("Privileged")), security=_security(host.get("SecurityOpt")),
        rlimits=_ulimits(host.get("Ulimits")),
        dns=tuple(dns_server(d) for d in _strings(host.get("Dns"), "Dns")),
        dns_search=tuple(dns_search(d) for d in _strings(host.get("DnsSearch"), "DnsSearch")),
        dns_options=_dns_options(host.get("DnsOptions")), extra_hosts=_extra_hosts(host.get("ExtraHosts")))
