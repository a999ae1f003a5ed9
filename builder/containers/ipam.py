"""Container addresses on a bridge, handed out machine-wide.

The bridge belongs to the machine, not to a store, so its table does too:
`/run/cairn/ipam/<bridge>.json` (guarded by flock on `<bridge>.lock`) maps
address -> {id, pid, start, root}: the container, the cairn process that runs it (its
pid and start time, so a reused pid is not mistaken for it) and its store. Every store
on the machine allocates from the same table, so two CI jobs with their own `--root`
never get the same address. The lowest free host address after the gateway is taken;
an entry whose process is gone (cairn killed with -9, a crash) is reclaimed. /run is a
tmpfs: a reboot, which ends every container, empties the tables too.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (the annotation only: ipaddress loads in allocate)
    import ipaddress

from runtime.enter import process_start  # noqa: F401 - also used by callers of ipam

from ..errors import CairnError

TABLES = Path("/run/cairn/ipam")


def bridge_config():
    """The machine's bridge for containers and RUN steps (CAIRN_BRIDGE, CAIRN_SUBNET)."""
    from runtime.network import Bridge

    return Bridge(os.environ.get("CAIRN_BRIDGE", "cairn0"), os.environ.get("CAIRN_SUBNET", "10.88.0.0/16"))


def _alive(entry: dict) -> bool:
    return process_start(entry.get("pid")) == entry.get("start")


@contextmanager
def _table(path: Path):
    """The table at path, locked; written back (atomically) when the block ends cleanly."""
    try:
        TABLES.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as err:
        raise CairnError(f"cannot open the address table in {TABLES}: {err.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            table = json.loads(path.read_text())
            if not isinstance(table, dict):
                table = {}
        except (OSError, ValueError):
            table = {}
        before = json.dumps(table, sort_keys=True)
        yield table
        text = json.dumps(table, indent=1, sort_keys=True)
        if text != before:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
    finally:
        os.close(fd)  # drops the lock


def allocate(bridge: str, subnet: str, container_id: str, root: str = "") -> ipaddress.IPv4Address:
    """A free address in subnet on bridge for container_id, owned by this process."""
    import ipaddress  # (here: a run with --network none loads none of it)

    net = ipaddress.ip_network(subnet)
    with _table(TABLES / f"{bridge}.json") as table:
        for addr, entry in list(table.items()):
            if not isinstance(entry, dict) or not _alive(entry):
                del table[addr]  # its cairn process, and so its container, is gone
        hosts = net.hosts()
        next(hosts)  # the gateway
        for addr in hosts:
            if str(addr) not in table:
                table[str(addr)] = {"id": container_id, "pid": os.getpid(),
                                    "start": process_start(os.getpid()), "root": str(root)}
                return addr
    raise CairnError(f"no free address left in {subnet} on bridge {bridge}")


def _each_table():
    try:
        return sorted(TABLES.glob("*.json"))
    except OSError:
        return []


def claim(container_id: str) -> None:
    """This process now runs container_id (run -d's monitor takes over from the CLI)."""
    for path in _each_table():
        with _table(path) as table:
            for entry in table.values():
                if isinstance(entry, dict) and entry.get("id") == container_id:
                    entry.update(pid=os.getpid(), start=process_start(os.getpid()))


def release(container_id: str) -> None:
    """Give back container_id's address, on whichever bridge it was."""
    for path in _each_table():
        with _table(path) as table:
            for addr, entry in list(table.items()):
                if isinstance(entry, dict) and entry.get("id") == container_id:
                    del table[addr]
