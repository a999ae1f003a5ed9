"""POST /containers/create's JSON body (docker's Config with its HostConfig) as the RunRequest
that `cairn run` would make from the same flags. Fields whose meaning cannot hold here are
refused (400, with the reason), never ignored in silence."""

from __future__ import annotations

from ..containers.request import RunRequest, Volume
from ..errors import UsageError

NETWORKS = {"": "bridge", "default": "bridge", "bridge": "bridge", "host": "host", "none": "none"}
# HostConfig fields with a meaning cairn does not give: refused when set to anything but empty
_REFUSED = {"VolumesFrom": "--volumes-from", "Links": "--link", "Devices": "--device (use cairn run)",
            "DeviceRequests": "--gpus", "IpcMode": "--ipc", "PidMode": "--pid", "UTSMode": "--uts",
            "UsernsMode": "--userns", "CgroupParent": "--cgroup-parent", "VolumeDriver": "--volume-driver",
            "Runtime": "--runtime", "Isolation": "--isolation"}


def _strings(value, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{what} must be a list of strings")
    return tuple(value)


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
    policy = (host.get("RestartPolicy") or {}).get("Name") or "no"
    if policy != "no":
        raise UsageError(f"--restart {policy}: cairn serve does not restart containers by itself")
    if not isinstance(body.get("Image"), str) or not body["Image"]:
        raise UsageError("no image given (Config.Image)")
    network = NETWORKS.get(host.get("NetworkMode") or "")
    if network is None:
        raise UsageError(f"network {host.get('NetworkMode')!r}: cairn has bridge, host and none")
    entrypoint, leading = _entrypoint(body.get("Entrypoint"))
    command = _strings(body.get("Cmd"), "Cmd")
    if entrypoint:
        command = leading + command
    labels = body.get("Labels") or {}
    if not isinstance(labels, dict):
        raise UsageError("Labels must be an object")
    nano = _int(host.get("NanoCpus"), "NanoCpus")
    return RunRequest(
        image=body["Image"], command=command, entrypoint=entrypoint, env=_strings(body.get("Env"), "Env"),
        volumes=_binds(host.get("Binds")), workdir=str(body.get("WorkingDir") or ""), user=str(body.get("User") or ""),
        network=network, ports=_ports(host.get("PortBindings")) if network == "bridge" else (),
        interactive=bool(body.get("OpenStdin")), tty=bool(body.get("Tty")), init=bool(host.get("Init")),
        hostname=str(body.get("Hostname") or ""), memory=_int(host.get("Memory"), "Memory"),
        cpus=nano / 1e9 if nano else None, pids_limit=_int(host.get("PidsLimit"), "PidsLimit"),
        remove=bool(host.get("AutoRemove")), name=name, labels=tuple((str(k), str(v)) for k, v in labels.items()),
        publish_all=bool(host.get("PublishAllPorts")), stop_signal=str(body.get("StopSignal") or ""),
        stop_timeout=body.get("StopTimeout") if isinstance(body.get("StopTimeout"), int) else None,
        read_only=bool(host.get("ReadonlyRootfs")), mounts=_tmpfs(host.get("Tmpfs")),
        cap_add=_strings(host.get("CapAdd"), "CapAdd"), cap_drop=_strings(host.get("CapDrop"), "CapDrop"),
        privileged=bool(host.get("Privileged")))
