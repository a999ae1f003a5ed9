"""The build-wide settings of every RUN step's sandbox, with docker build's meaning:

- `--network default|none|host`: what a RUN without `--network` (or with `--network=default`)
  gets; a step's own `--network=none|host` still wins. host needs `--allow network.host`.
- the hostname: BuildKit's `--build-arg BUILDKIT_SANDBOX_HOSTNAME=NAME` (else buildkitsandbox),
  in /etc/hostname, /etc/hosts and the UTS namespace.
- `--add-host NAME:IP` (or NAME=IP, IP in brackets allowed; `host-gateway` is the address of
  cairn's bridge on the host): extra /etc/hosts lines.
- `--allow security.insecure`: lets `RUN --security=insecure` run without the sandbox.

All of it is in a step's cache key when it differs from the default, as in BuildKit's exec op.
"""

from __future__ import annotations

import ipaddress

from runtime.record import Record, record

from ..errors import CairnError, UsageError
from .run_network import step_mode

ENTITLEMENTS = ("network.host", "security.insecure")
HOSTNAME_ARG = "BUILDKIT_SANDBOX_HOSTNAME"
DEFAULT_HOSTNAME = "buildkitsandbox"
HOST_GATEWAY = "host-gateway"
BUILD_NETWORKS = ("default", "none", "host")


@record
class Sandbox(Record):
    network: str = "default"  # the build's --network
    hostname: str = DEFAULT_HOSTNAME
    extra_hosts: tuple[tuple[str, str], ...] = ()  # (name, IP) from --add-host, in order
    allow: tuple[str, ...] = ()  # --allow entitlements

    def network_mode(self, step_network: str) -> str:
        """The runtime mode of a step whose (expanded) --network is `step_network`; refuses
        host networking that was not allowed."""
        return step_mode(self.network if step_network == "default" else step_network, self.allow)

    def insecure(self, step_security: str) -> bool:
        """Whether the step runs without the sandbox; refuses it without the entitlement."""
        if step_security not in ("sandbox", "insecure"):
            raise CairnError(f'unsupported security mode "{step_security}"')
        if step_security == "insecure" and "security.insecure" not in self.allow:
            raise CairnError("entitlement security.insecure is not allowed: RUN --security=insecure needs "
                             "`cairn build --allow security.insecure`")
        return step_security == "insecure"

    def hosts_file(self) -> str:
        lines = [f"127.0.0.1\tlocalhost {self.hostname}", "::1\tlocalhost ip6-localhost ip6-loopback"]
        lines += [f"{ip}\t{name}" for name, ip in self.extra_hosts]
        return "\n".join(lines) + "\n"

    def key(self, step_network: str, step_security: str) -> dict:
        """The step's cache-key entries; the defaults add nothing, so older keys still match."""
        out: dict = {"network": self.network if step_network == "default" else step_network,
                     "security": step_security}
        if self.hostname != DEFAULT_HOSTNAME:
            out["hostname"] = self.hostname
        if self.extra_hosts:
            out["extra_hosts"] = [list(h) for h in self.extra_hosts]
        return out


def check_entitlements(allow) -> tuple[str, ...]:
    for entitlement in allow:
        if entitlement not in ENTITLEMENTS:
            raise UsageError(f"invalid --allow {entitlement!r}: cairn knows {', '.join(ENTITLEMENTS)}")
    return tuple(allow)


def check_network(network: str) -> str:
    if network not in BUILD_NETWORKS:
        raise UsageError(f"invalid --network {network!r}: use one of {', '.join(BUILD_NETWORKS)}")
    return network


def check_hostname(name: str) -> str:
    """A name sethostname(2) takes and /etc/hosts can hold on one line."""
    if not name or len(name.encode()) > 64 or any(c.isspace() or not c.isprintable() or c == "#" for c in name):
        raise UsageError(f"invalid {HOSTNAME_ARG} {name!r}: a host name of at most 64 characters, "
                         "without spaces")
    return name


def parse_add_host(text: str, gateway: str) -> tuple[str, str]:
    """docker's --add-host: NAME=IP or NAME:IP (split at the first = or else the first :), the
    IP optionally in brackets; `host-gateway` stands for `gateway`."""
    name, sep, ip = text.partition("=")
    if not sep:
        name, sep, ip = text.partition(":")
    if not sep or not name:
        raise UsageError(f"bad format for add-host: {text!r}")
    if any(c.isspace() or not c.isprintable() or c == "#" for c in name):
        raise UsageError(f"invalid host name in add-host: {name!r}")
    if ip == HOST_GATEWAY:
        return name, gateway
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    try:
        return name, str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        raise UsageError(f"invalid IP address in add-host: {ip!r}") from None
