"""Named and anonymous volumes, kept in the store as docker's local driver keeps them:

    <store>/volumes/<name>/_data         what the container sees at the mount's target
    <store>/volumes/<name>/volume.json   CreatedAt, Labels, Anonymous

A name is only ever one checked by run_mounts.VOLUME_NAME (no '/', no leading '.'), so a
volume is always a directory right below <store>/volumes. A volume is in use while a
container (running or stopped) lists it in its state.json `volumes`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from runtime.record import Record, record

from ..errors import CairnError, UsageError
from ..store.store import Store, remove_tree
from .dirs import all_containers
from .run_mounts import VOLUME_NAME


class VolumeError(CairnError):
    pass


@record
class VolumeInfo(Record):
    name: str
    path: Path  # <store>/volumes/<name>
    created: float
    labels: dict
    anonymous: bool

    @property
    def data(self) -> Path:
        return self.path / "_data"

    def inspect(self) -> dict:
        """docker volume inspect's fields."""
        return {"CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created)), "Driver": "local",
                "Labels": self.labels or None, "Mountpoint": str(self.data), "Name": self.name,
                "Options": None, "Scope": "local"}


def _base(store: Store) -> Path:
    base = store.layout.volumes
    base.mkdir(mode=0o700, exist_ok=True)
    return base


def _checked(name: str) -> str:
    if not VOLUME_NAME.match(name):
        raise UsageError(f'invalid volume name "{name}": only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed')
    return name


def get(store: Store, name: str) -> VolumeInfo | None:
    path = _base(store) / _checked(name)
    try:
        meta = json.loads((path / "volume.json").read_text())
    except (OSError, ValueError):
        return None
    if not (path / "_data").is_dir():
        return None
    return VolumeInfo(name, path, float(meta.get("CreatedAt", 0)), dict(meta.get("Labels") or {}),
                      bool(meta.get("Anonymous")))


def create(store: Store, name: str | None = None, labels: dict | None = None,
           anonymous: bool | None = None) -> tuple[VolumeInfo, bool]:
    """(the volume, whether it was made now); an existing volume is returned as it is.
    Without a name, a random 64-hex one: anonymous (prune removes it unless asked not to:
    `cairn volume create` with no name makes a named one, as docker does)."""
    if anonymous is None:
        anonymous = name is None
    name = os.urandom(32).hex() if name is None else _checked(name)
    found = get(store, name)
    if found is not None:
        return found, False
    path = _base(store) / name
    path.mkdir(mode=0o700, exist_ok=True)
    (path / "_data").mkdir(mode=0o755, exist_ok=True)
    tmp = path / f"volume.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"CreatedAt": time.time(), "Labels": labels or {}, "Anonymous": anonymous}))
    os.replace(tmp, path / "volume.json")
    return get(store, name), True


def list_all(store: Store) -> list[VolumeInfo]:
    out = []
    for entry in sorted(os.listdir(_base(store))):
        if VOLUME_NAME.match(entry):
            info = get(store, entry)
            if info is not None:
                out.append(info)
    return out


def users(store: Store, name: str) -> list[str]:
    """IDs of the containers (running or stopped) that use the volume."""
    return [c.id for c in all_containers(store) if name in (c.state().get("volumes") or ())]


def _size(path: Path) -> int:
    from runtime.lstat_walk import lstat_walk  # (no recursion per level: a deep tree in a volume)

    return sum(st.st_blocks * 512 for _, st in lstat_walk(path))


def remove(store: Store, name: str, force: bool = False) -> None:
    """docker volume rm: refused while a container uses it; a missing one is an error
    (unless `force`)."""
    info = get(store, name)
    if info is None:
        if force:
            return
        raise VolumeError(f"get {name}: no such volume")
    in_use = users(store, name)
    if in_use:
        raise VolumeError(f"remove {name}: volume is in use - [{', '.join(in_use)}]")
    _delete(info)


def _delete(info: VolumeInfo) -> None:
    (info.path / "volume.json").unlink(missing_ok=True)  # first: a half-removed volume is no volume
    remove_tree(info.path)


def prune(store: Store, include_named: bool = False) -> tuple[list[str], int]:
    """docker volume prune: remove unused anonymous volumes (every unused one with `all`);
    (names removed, bytes reclaimed)."""
    used = {v for c in all_containers(store) for v in (c.state().get("volumes") or ())}
    removed, freed = [], 0
    for info in list_all(store):
        if info.name in used or not (info.anonymous or include_named):
            continue
        freed += _size(info.path)
        _delete(info)
        removed.append(info.name)
    return removed, freed


def remove_anonymous(store: Store, names) -> None:
    """After `run --rm`: the container's anonymous volumes go with it (named ones stay)."""
    for name in names:
        info = get(store, name)
        if info is not None and info.anonymous and not users(store, name):
            _delete(info)
