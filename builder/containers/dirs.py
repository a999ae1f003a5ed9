"""Container directories in the store, their state files, and finding them by ID or name.

    <store>/containers/<64-hex id>/state.json   id, name, image, command, status, pid, exit_code, ...
                                   upper/ work/ rootfs/ hosts hostname resolv.conf log
"""

from __future__ import annotations

import json
import os
import threading

from ..errors import CairnError
from ..store.store import Store

_WRITE_LOCK = threading.Lock()


class ContainerNotFound(CairnError):
    pass


class ContainerDir:
    def __init__(self, store: Store, cid: str):
        self.id = cid
        self.path = store.layout.container(cid)
        self.upper, self.work, self.rootfs = self.path / "upper", self.path / "work", self.path / "rootfs"

    def create(self) -> None:
        for d in (self.upper, self.work, self.rootfs):
            d.mkdir(parents=True, exist_ok=False)

    def write_state(self, **fields) -> None:
        with _WRITE_LOCK:  # a monitor's threads (the container's, health checks) update it at once
            state = self.state()
            state.update(fields)
            tmp = self.path / "state.json.tmp"
            tmp.write_text(json.dumps(state, indent=2))
            os.replace(tmp, self.path / "state.json")

    def state(self) -> dict:
        try:
            return json.loads((self.path / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def pid_alive(self) -> bool:
        return process_alive(self.state().get("pid"))

    def running(self) -> bool:
        return self.state().get("status") == "running" and self.pid_alive()


def process_alive(pid: int | None) -> bool:
    """Whether pid is a live process (a zombie waiting to be reaped counts as gone)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat[stat.rfind(b")") + 2: stat.rfind(b")") + 3]
    return state not in (b"Z", b"X")


def all_containers(store: Store) -> list[ContainerDir]:
    base = store.layout.containers
    if not base.is_dir():
        return []
    found = [ContainerDir(store, p.name) for p in base.iterdir() if (p / "state.json").exists()]
    return sorted(found, key=lambda c: c.state().get("created", 0), reverse=True)


def find_container(store: Store, key: str) -> ContainerDir:
    """By name, full ID or unique ID prefix."""
    matches = []
    for c in all_containers(store):
        if c.state().get("name") == key or c.id == key:
            return c
        if len(key) >= 3 and c.id.startswith(key):
            matches.append(c)
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise CairnError(f"container ID prefix {key!r} is ambiguous")
    raise ContainerNotFound(f"no such container: {key}")


def name_taken(store: Store, name: str) -> str:
    """The ID of the container that has the name, or "" when none has it."""
    return next((c.id for c in all_containers(store) if c.state().get("name") == name), "")
