"""Cgroups in rootless mode: limits only inside a cgroup v2 subtree delegated to the user.

Root gets runtime.cgroups as it is. A rootless process may only write where the host
delegated a subtree to its user (systemd's user@.service with Delegate=yes): its own v2
cgroup is then the user's, with the controllers enabled below it. There a container's cgroup
is made below it as for root, without the eBPF device program (loading one needs the host's
CAP_BPF; a user namespace cannot make or open device nodes anyway). Elsewhere
(cgroup v1, or no delegation) a container gets no cgroup: a run without limits works, and
one with limits is refused with the reason, never run without them.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from . import userns
from .cgroups import Cgroup, CgroupError, _mkdir, _mounts, _own_paths, _v2_usable
from .devices import ALLOWED
from .spec import Resources

NEEDED = {"memory", "pids", "cpu"}


def delegated() -> Path | None:
    """This process's own v2 cgroup, if the user may make limited cgroups below it."""
    mounts, own = _mounts(), _own_paths()
    if _v2_usable(mounts, own) is None:
        return None
    base = Path(mounts["unified"]) / own.get("unified", "/").lstrip("/")
    try:
        enabled = set((base / "cgroup.subtree_control").read_text().split())
    except OSError:
        return None
    if not NEEDED <= enabled or not os.access(base, os.W_OK):
        return None
    return base


def version() -> int:
    """2 when cgroup v2 holds the controllers, else 1 (a v1 or hybrid host)."""
    return 2 if _v2_usable(_mounts(), _own_paths()) is not None else 1


def has_limits(res: Resources) -> bool:
    return any(v not in (None, 0) for v in (res.memory, res.cpus, res.pids, res.memory_swap, res.cpu_quota,
                                            res.cpu_period))


def refusal() -> str:
    where = "cgroup v1 controllers on this host" if version() == 1 else "no delegated cgroup v2 subtree"
    return (f"rootless mode cannot set resource limits ({where}): run as root, or where systemd "
            f"delegates a cgroup v2 subtree to the user (user@.service, Delegate=yes)")


class NoCgroup:
    """A rootless container's stand-in where no subtree is delegated: it holds no limits."""

    name, version, paths, parent = "", 0, {}, None

    def apply(self, res: Resources) -> None:
        if has_limits(res):
            raise CgroupError(errno.EPERM, refusal())

    def add(self, pid: int) -> None:
        pass

    def oom_killed(self) -> bool:
        return False

    def pids(self) -> list[int]:
        return []

    def destroy(self, timeout: float = 10.0) -> None:
        pass

    def refill_pool(self) -> None:
        pass


def create(name: str, parent: str | None = None, devices=ALLOWED, pooled: bool = False):
    """Cgroup.create as root; in rootless mode a cgroup in the delegated subtree, or NoCgroup."""
    if userns.active() is None:
        return Cgroup.create(name, parent, devices, pooled)
    base = delegated()
    if base is None:
        if parent is not None:
            raise CgroupError(errno.EPERM, refusal().replace("set resource limits", "use --cgroup-parent"))
        return NoCgroup()
    path = base / "cairn" / name
    cgroup = Cgroup(name, 2, {}, parent)
    try:
        _mkdir(path)
        cgroup.paths["unified"] = path
    except BaseException:
        cgroup.destroy()
        raise
    return cgroup
