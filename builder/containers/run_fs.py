"""A container's mounts beyond its root: host binds (-v /src:/dst, --mount type=bind),
tmpfs (--tmpfs, --mount type=tmpfs), named volumes (-v NAME:/dst, --mount type=volume)
and the anonymous volumes of the image's VOLUME instructions, as runtime Mounts.

A volume is made in the store on first use (builder.containers.volumes) and, while empty,
filled from the image at its target (runtime.copy_up) unless nocopy was asked. Targets are
resolved inside the container's root by the runtime (runtime.securejoin); a later mount on
the same target replaces an earlier one, and the user's mounts replace the image's VOLUMEs.
"""

from __future__ import annotations

import posixpath

from runtime.record import Record, record
from runtime.spec import Mount

from ..store.store import Store


@record
class FsMounts(Record):
    mounts: tuple[Mount, ...]
    volumes: tuple[str, ...]  # every volume the container uses (kept in its state: "in use")
    anonymous: tuple[str, ...]  # the ones made for it, removed with it by run --rm


def _requests(req, config: dict) -> list:
    """The user's mounts in order (run_mounts.MountRequest), after the image's VOLUMEs that
    none of them covers."""
    from .run_mounts import MountRequest  # (here: a run without mounts or VOLUMEs loads none of it)

    user: list[MountRequest] = []
    for v in req.volumes:
        if getattr(v, "named", None) is not None:
            user.append(v.named)
        else:
            user.append(MountRequest("bind", v.destination, v.source, v.readonly))
    user.extend(req.mounts)
    taken = {m.target for m in user}
    image = [MountRequest("volume", posixpath.normpath(path)) for path in sorted(config.get("Volumes") or {})
             if path.startswith("/") and posixpath.normpath(path) not in taken and posixpath.normpath(path) != "/"]
    return image + user


def mounts_for(store: Store, req, config: dict) -> FsMounts:
    if not req.volumes and not req.mounts and not config.get("Volumes"):
        return FsMounts((), (), ())  # (nothing beyond the root: run_mounts and volumes stay unloaded)
    chosen: dict = {}  # target -> run_mounts.MountRequest
    for m in _requests(req, config):
        chosen.pop(m.target, None)
        chosen[m.target] = m  # the last one for a target wins, in the place it was given
    out: list[Mount] = []
    used: list[str] = []
    anonymous: list[str] = []
    for m in chosen.values():
        ro = ("ro",) if m.readonly else ()
        if m.kind == "bind":
            out.append(Mount(m.target, "bind", m.source, ro))
        elif m.kind == "tmpfs":
            out.append(Mount(m.target, "tmpfs", "tmpfs", m.options))
        else:
            from . import volumes

            info, made = volumes.create(store, m.source or None, dict(m.labels))
            if not m.source:
                anonymous.append(info.name)
            used.append(info.name)
            out.append(Mount(m.target, "bind", str(info.data), ro, copy_up=not m.nocopy))
    return FsMounts(tuple(out), tuple(used), tuple(anonymous))
