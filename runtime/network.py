"""Bridge networking with pyroute2: the bridge, a veth pair per container, and masquerade.

    host: bridge <name> (gateway address) <- veth <hostside> -- eth0 (container netns)

`ensure_bridge` makes the bridge once (it outlives containers, like docker0), with
forwarding on and a MASQUERADE rule for its subnet when iptables is present. `attach`
wires one container's network namespace (by pid) while the container waits to start;
`detach` removes the host side (the peer goes with it). The bridge is made with pyroute2;
the per-container steps use runtime.netlink, because importing pyroute2 costs ~350 ms
here, more than a container start may take.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import threading

from . import syscalls as sc
from .netlink import Netlink, index_of
from .record import Record, record


@record
class Bridge(Record):
    name: str = "cairn0"
    subnet: str = "10.88.0.0/16"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.ip_network(self.subnet)

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return next(self.network.hosts())


@record
class Attachment(Record):
    host_ifname: str
    address: ipaddress.IPv4Address
    bridge: Bridge


class NetworkError(OSError):
    pass


def _iptables(*args: str):
    """iptables' result (a CompletedProcess), None where it is not installed. (Its modules
    load only here: a container start on a bridge that is up runs no iptables.)"""
    import shutil
    import subprocess

    exe = shutil.which("iptables")
    if exe is None:
        return None
    return subprocess.run([exe, "-w", "5", *args], capture_output=True, text=True, timeout=30)


def _masquerade_rule(bridge: Bridge) -> tuple[str, ...]:
    return ("-t", "nat", "POSTROUTING", "-s", bridge.subnet, "!", "-o", bridge.name, "-j", "MASQUERADE")


def bridge_ready(bridge: Bridge) -> bool:
    """The bridge exists and is up (read from sysfs: no netlink, no pyroute2 import)."""
    base = f"/sys/class/net/{bridge.name}"
    try:
        flags = int(open(f"{base}/flags").read(), 16)
    except (OSError, ValueError):
        return False
    return os.path.isdir(f"{base}/bridge") and bool(flags & 0x1)


def ensure_bridge(bridge: Bridge) -> None:
    """Create and configure the bridge unless it is up already (set up once, like docker0)."""
    if bridge_ready(bridge):
        return
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=bridge.name)
        if not found:
            try:
                ipr.link("add", ifname=bridge.name, kind="bridge")
            except Exception as err:  # another process made it first
                if not ipr.link_lookup(ifname=bridge.name):
                    raise NetworkError(f"cannot create bridge {bridge.name}: {err}") from None
            idx = ipr.link_lookup(ifname=bridge.name)[0]
            try:
                ipr.addr("add", index=idx, address=str(bridge.gateway), prefixlen=bridge.network.prefixlen)
            except Exception:
                pass  # already there
        idx = ipr.link_lookup(ifname=bridge.name)[0]
        ipr.link("set", index=idx, state="up")
    try:
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1")
    except OSError:
        pass
    rule = _masquerade_rule(bridge)
    present = _iptables(rule[0], rule[1], "-C", *rule[2:])
    if present is not None and present.returncode != 0:
        _iptables(rule[0], rule[1], "-A", *rule[2:])


def remove_bridge(bridge: Bridge) -> None:
    """Delete the bridge and its masquerade rule (tests clean up with this)."""
    from pyroute2 import IPRoute

    rule = _masquerade_rule(bridge)
    while True:
        res = _iptables(rule[0], rule[1], "-D", *rule[2:])
        if res is None or res.returncode != 0:
            break
    with IPRoute() as ipr:
        for idx in ipr.link_lookup(ifname=bridge.name):
            ipr.link("del", index=idx)


def _in_netns(pid: int, fn) -> None:
    """Run fn(Netlink) with a netlink socket opened inside the network namespace of pid."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                sc.setns(fd, sc.CLONE_NEWNET)  # this thread only
            finally:
                os.close(fd)
            with Netlink() as nl:
                fn(nl)
        except BaseException as err:  # re-raised in the caller's thread
            errors.append(err)

    thread = threading.Thread(target=target, name="cairn-netns")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def attach(bridge: Bridge, pid: int, address: ipaddress.IPv4Address, host_ifname: str) -> Attachment:
    """A veth pair from the bridge into the namespace of pid, addressed and routed."""
    master = index_of(bridge.name)
    if master is None:
        raise NetworkError(errno.ENODEV, f"bridge {bridge.name} does not exist")
    with Netlink() as nl:
        nl.add_veth(host_ifname, "eth0", pid)
        try:
            nl.set_up(index_of(host_ifname), master=master)
        except BaseException:
            nl.delete_link(index_of(host_ifname) or 0)
            raise

    def configure(nl: Netlink) -> None:
        eth0 = index_of("eth0")
        nl.add_address(eth0, address, bridge.network.prefixlen)
        nl.set_up(eth0)
        nl.add_default_route(bridge.gateway, eth0)

    try:
        _in_netns(pid, configure)
    except BaseException:
        detach(host_ifname)
        raise
    return Attachment(host_ifname, address, bridge)


def detach(host_ifname: str) -> None:
    """Remove the host side of a container's veth (the peer goes with it)."""
    index = index_of(host_ifname)
    if index is not None:
        with Netlink() as nl:
            nl.delete_link(index)
