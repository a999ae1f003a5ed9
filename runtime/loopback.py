"""Brings `lo` up in a new network namespace with two ioctls (no netlink library needed)."""

from __future__ import annotations

import fcntl
import os
import struct

from . import syscalls as sc

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def loopback_up() -> None:
    fd = sc.inet_dgram_socket()
    try:
        req = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(fd, _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(fd, _SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | _IFF_UP))
    finally:
        os.close(fd)
