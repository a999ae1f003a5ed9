"""Container addresses on the bridge, handed out under a lock in the store.

`<store>/network/addresses.json` maps address -> container id; the lowest free host
address after the gateway is taken. A container that dies without releasing its address
(cairn killed with -9) is found by its missing directory and its address reused.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
from contextlib import contextmanager

from .errors import CairnError
from .store.store import Store


@contextmanager
def _locked(store: Store):
    d = store.root / "network"
    d.mkdir(exist_ok=True)
    fd = os.open(d / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = d / "addresses.json"
        try:
            table = json.loads(path.read_text())
        except (OSError, ValueError):
            table = {}
        yield table
        tmp = d / "addresses.json.tmp"
        tmp.write_text(json.dumps(table, indent=1, sort_keys=True))
        os.replace(tmp, path)
    finally:
        os.close(fd)


def allocate(store: Store, subnet: str, container_id: str) -> ipaddress.IPv4Address:
    net = ipaddress.ip_network(subnet)
    with _locked(store) as table:
        for addr, owner in list(table.items()):
            if not (store.root / "containers" / owner).exists():
                del table[addr]  # its container is gone
        hosts = net.hosts()
        next(hosts)  # the gateway
        for addr in hosts:
            if str(addr) not in table:
                table[str(addr)] = container_id
                return addr
    raise CairnError(f"no free address left in {subnet}")


def release(store: Store, container_id: str) -> None:
    with _locked(store) as table:
        for addr, owner in list(table.items()):
            if owner == container_id:
                del table[addr]
