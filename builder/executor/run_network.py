"""The network of a RUN step. By default its own network namespace on cairn's bridge with
NAT, like `cairn run` (BuildKit's default is a namespace of its own too): package
registries are reachable, the host's interfaces and its loopback services are not.
`--network=none` is lo only; `--network=host` shares the host's, and needs the
`network.host` entitlement (`cairn build --allow network.host`), as in BuildKit. The build's
`--network` is what a step without its own gets (executor.sandbox)."""

from __future__ import annotations

import os

from ..errors import CairnError

MODES = {"default": "bridge", "none": "none", "host": "host"}


def step_mode(network: str, allow: tuple[str, ...] | None = None) -> str:
    """The runtime's network mode for RUN --network=`network` (expanded); with `allow`
    given, refuses host networking that was not allowed."""
    mode = MODES.get(network)
    if mode is None:
        raise CairnError(f'unsupported network mode "{network}": use default, none or host')
    if mode == "host" and allow is not None and "network.host" not in allow:
        raise CairnError("network.host is not allowed: RUN --network=host needs `cairn build --allow network.host`")
    return mode


# docker's fallback when the host's only name servers are loopback ones (systemd-resolved's
# 127.0.0.53), which a namespace of its own cannot reach
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")


def resolv_conf(host_text: str, mode: str) -> str:
    """The step's /etc/resolv.conf: the host's, without loopback name servers off the host network
    (rootless: slirp4netns's forwarder to the host's)."""
    if mode == "host":
        return host_text
    from runtime import userns

    if mode == "bridge" and userns.active() is not None:
        from runtime import slirp  # (rootless only: it loads socket and subprocess)

        return slirp.resolv_conf(host_text)
    lines, servers = [], 0
    for line in host_text.splitlines():
        fields = line.split()
        if fields[:1] == ["nameserver"] and len(fields) > 1:
            if fields[1].startswith("127.") or fields[1] == "::1":
                continue
            servers += 1
        lines.append(line)
    if servers == 0 and mode == "bridge":
        lines += [f"nameserver {ns}" for ns in FALLBACK_NAMESERVERS]
    return "\n".join(lines) + "\n" if lines else ""


class StepNetwork:
    """For the bridge mode: an address on the bridge, the step's veth while it runs."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.id = "build-" + os.urandom(8).hex()
        self.address = None
        self.ifname: str | None = None
        self.slirp = None
        from runtime import userns

        self.user_mode = mode == "bridge" and userns.active() is not None  # rootless: slirp4netns
        if mode != "bridge" or self.user_mode:
            return
        from runtime.network import ensure_bridge

        from ..containers.ipam import allocate, bridge_config  # (containers.run is cairn run's)

        self.bridge = bridge_config()
        ensure_bridge(self.bridge)
        self.address = allocate(self.bridge.name, self.bridge.subnet, self.id)

    def attach(self, pid: int) -> None:
        """Wire the waiting step's namespace (its process is `pid`) to the bridge."""
        if self.user_mode:
            from runtime.slirp import Slirp

            self.slirp = Slirp(pid)
            return
        if self.address is None:
            return
        from runtime.network import attach

        self.ifname = "cairnb" + self.id[6:14]
        attach(self.bridge, pid, self.address, self.ifname)

    def close(self) -> None:
        if self.slirp is not None:
            self.slirp.close()
            self.slirp = None
        if self.ifname is not None:
            from runtime.network import detach

            detach(self.ifname)
            self.ifname = None
        if self.address is not None:
            from ..containers.ipam import release

            release(self.id)
            self.address = None
