"""The few rtnetlink requests a container start needs, spoken directly.

pyroute2 is the project's netlink library, but importing it costs ~350 ms on this
machine, more than a whole container start may take. The hot path (a veth pair into
the container's namespace, its address, its default route, deleting it afterwards) is
five small messages, written here; bridge creation, done once, still uses pyroute2.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 17, 20, 24
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
NLA_F_NESTED = 0x8000
IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_PID = 3, 10, 18, 19
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_OIF, RTA_GATEWAY = 4, 5
IFF_UP = 0x1
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1

_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_NLHDR = struct.Struct("=IHHII")


def _attr(kind: int, data: bytes) -> bytes:
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * ((-length) % 4)


def _nested(kind: int, *attrs: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, b"".join(attrs))


def _ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, flags, change)


class Netlink:
    """An rtnetlink socket in the network namespace of the thread that opens it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Netlink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, kind: int, flags: int, payload: bytes) -> None:
        """Send one request and wait for its acknowledgement; raise OSError on a negative one."""
        self.seq += 1
        flags |= NLM_F_REQUEST | NLM_F_ACK
        self.sock.send(_NLHDR.pack(_NLHDR.size + len(payload), kind, flags, self.seq, 0) + payload)
        while True:
            data = self.sock.recv(65536)
            pos = 0
            while pos + _NLHDR.size <= len(data):
                length, mtype, _flags, seq, _pid = _NLHDR.unpack_from(data, pos)
                if mtype == NLMSG_ERROR and seq == self.seq:
                    (code,) = struct.unpack_from("=i", data, pos + _NLHDR.size)
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    return
                pos += max(length, _NLHDR.size) + ((-length) % 4)

    def add_veth(self, name: str, peer: str, peer_netns_pid: int) -> None:
        peer_info = _ifinfo() + _attr(IFLA_IFNAME, peer.encode() + b"\0") + \
            _attr(IFLA_NET_NS_PID, struct.pack("=I", peer_netns_pid))
        payload = _ifinfo() + _attr(IFLA_IFNAME, name.encode() + b"\0") + _nested(
            IFLA_LINKINFO, _attr(IFLA_INFO_KIND, b"veth"),
            _nested(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer_info)))
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, payload)

    def set_up(self, index: int, master: int | None = None) -> None:
        payload = _ifinfo(index, IFF_UP, IFF_UP)
        if master is not None:
            payload += _attr(IFLA_MASTER, struct.pack("=I", master))
        self.request(RTM_NEWLINK, 0, payload)

    def add_address(self, index: int, address: ipaddress.IPv4Address, prefixlen: int) -> None:
        raw = address.packed
        payload = _IFADDR.pack(socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, index) + \
            _attr(IFA_LOCAL, raw) + _attr(IFA_ADDRESS, raw)
        self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, payload)

    def add_default_route(self, gateway: ipaddress.IPv4Address, index: int) -> None:
        payload = _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE,
                              RTN_UNICAST, 0) + _attr(RTA_GATEWAY, gateway.packed) + \
            _attr(RTA_OIF, struct.pack("=I", index))
        self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, payload)

    def delete_link(self, index: int) -> None:
        try:
            self.request(RTM_DELLINK, 0, _ifinfo(index))
        except OSError as err:
            if err.errno not in (errno.ENODEV, errno.ENOENT):
                raise


def index_of(name: str) -> int | None:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None
