"""What a user asks `cairn run` for (RunRequest, with its -v volumes), and the error of a
container that could not start, with docker's exit code."""

from __future__ import annotations

import os
import re
from dataclasses import field

from runtime.record import Record, record

from ..errors import CairnError, UsageError


@record
class Volume(Record):
    source: str
    destination: str
    readonly: bool = False
    named: object = None  # a run_mounts.MountRequest: -v NAME:/dst or -v /dst (a volume, not a host path)

    @classmethod
    def parse(cls, text: str) -> "Volume":
        from .run_mounts import parse_volume_flag

        named = parse_volume_flag(text)
        if named is not None:
            return cls(named.source, named.target, named.readonly, named)
        parts = text.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise UsageError(f"invalid -v {text!r}: expected SRC:DST[:ro|rw]")
        src, dst = parts[0], parts[1]
        mode = parts[2] if len(parts) == 3 else "rw"
        if mode not in ("ro", "rw"):
            raise UsageError(f"invalid -v {text!r}: mode must be ro or rw, not {mode!r}")
        if not src.startswith("/"):
            raise UsageError(f"invalid -v {text!r}: the source must be an absolute host path")
        if not dst.startswith("/"):
            raise UsageError(f"invalid -v {text!r}: the destination must be an absolute path")
        if not os.path.exists(src):
            raise UsageError(f"invalid -v {text!r}: {src} does not exist")
        return cls(os.path.abspath(src), os.path.normpath(dst), mode == "ro")


@record
class RunRequest(Record):
    image: str
    command: tuple[str, ...] = ()
    entrypoint: str | None = None
    env: tuple[str, ...] = ()
    volumes: tuple[Volume, ...] = ()
    workdir: str = ""
    user: str = ""
    network: str = "bridge"
    ports: tuple = ()  # runtime.portproxy.PortMapping
    interactive: bool = False
    tty: bool = False
    init: bool = False
    hostname: str = ""
    memory: int | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    remove: bool = False
    name: str = ""
    registry: object = None  # RegistryOptions, for layers that must be fetched first
    extra_hosts: tuple[tuple[str, str], ...] = field(default=())  # --add-host (name, IP)
    # docker run's process and metadata flags (builder.commands.run_meta, .metadata)
    env_file_env: tuple[str, ...] = ()  # KEY=VALUE lines of --env-file, before -e
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    rlimits: tuple[tuple[str, int, int], ...] = ()  # --ulimit as (RLIMIT_NAME, soft, hard)
    labels: tuple[tuple[str, str], ...] = ()
    publish_all: bool = False
    stop_signal: str = ""
    stop_timeout: int | None = None
    healthcheck: dict | None = None  # the flags' fields of docker's Healthcheck config
    cidfile: str = ""
    # docker's filesystem and privilege flags (builder.commands.run_fs_options)
    read_only: bool = False
    mounts: tuple = ()  # run_mounts.MountRequest: --mount, --tmpfs
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    devices: tuple = ()  # run_privileges.DeviceRequest
    security: object = None  # run_privileges.SecurityOptions



class ContainerError(CairnError):
    """The container could not start; exit_code follows docker (125, 126, 127)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.exit_code = code


def dns_server(text: str) -> str:
    """--dns (HostConfig.Dns): an IP address."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise UsageError(f"invalid --dns {text!r}: an IP address, as 1.1.1.1") from None


def dns_search(text: str) -> str:
    """--dns-search (HostConfig.DnsSearch): a domain name, or `.`."""
    if text == "." or re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9_-]{0,62}\.?)*", text) and len(text) <= 255:
        return text
    raise UsageError(f"invalid --dns-search {text!r}: a domain name, or . for none")
