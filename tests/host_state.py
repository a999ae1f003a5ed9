"""What cairn may leave on the host, read from the host itself, so that tests check only
what they made: take a `snapshot()` before, another after, and compare with `new_since`.

A user's default bridge (cairn0, kept like docker0), the veths and cgroups of their
running containers and the masquerade rule of cairn0 are there before the tests start,
so they are never counted; what a test made and left is.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class HostState:
    mounts: frozenset[str]  # mount points with "cairn" or "pytest-of" in their path
    cgroups: frozenset[str]  # every cgroup directory at or below one called cairn*
    netns: frozenset[str]  # named network namespaces (ip netns)
    links: dict  # ifname -> its master's ifname (or None)
    nat_rules: frozenset[str]  # iptables nat rules that name a cairn bridge

    def new_since(self, before: "HostState") -> dict[str, list[str]]:
        """What is here now and was not before, by kind (empty lists when nothing leaked)."""
        return {
            "mounts": sorted(self.mounts - before.mounts),
            "cgroups": sorted(self.cgroups - before.cgroups),
            "netns": sorted(self.netns - before.netns),
            "links": sorted(set(self.links) - set(before.links)),
            "nat_rules": sorted(self.nat_rules - before.nat_rules),
        }

    def attached_to(self, bridge: str) -> list[str]:
        """The links whose master is `bridge` (container veths still plugged into it)."""
        return sorted(name for name, master in self.links.items() if master == bridge)


def _mounts() -> frozenset[str]:
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f]
    return frozenset(p for p in points if "cairn" in p or "pytest-of" in p)


def _cgroups() -> frozenset[str]:
    found: set[str] = set()
    if not CGROUP_ROOT.is_dir():
        return frozenset()
    for top in CGROUP_ROOT.iterdir():
        if not top.is_dir() or top.is_symlink():
            continue
        for d in top.rglob("cairn*"):
            if d.is_dir():
                subs = [sub for sub in d.rglob("*") if sub.is_dir() and not _spare(sub)]
                if subs or not any(_spare(sub) for sub in d.iterdir()):
                    found.add(str(d))  # (not the shared directory kept only for the pool's spares)
                found.update(str(sub) for sub in subs)
    return frozenset(found)


def _spare(d: Path) -> bool:
    """A ready entry of cairn's cgroup pool (runtime.cgroup_pool): kept between runs like the
    default bridge, drained by the tests' module clean-up (conftest.remove_test_bridge)."""
    return d.name.startswith(".pool-")


def _run(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _links() -> dict:
    try:
        entries = json.loads(_run("ip", "-j", "link", "show") or "[]")
    except ValueError:
        return {}
    return {e["ifname"]: e.get("master") for e in entries}


def snapshot() -> HostState:
    root = os.geteuid() == 0
    netns = _run("ip", "netns", "list").split("\n") if root else []
    nat = _run("iptables", "-w", "5", "-t", "nat", "-S") if root else ""
    return HostState(
        mounts=_mounts(),
        cgroups=_cgroups(),
        netns=frozenset(line.split()[0] for line in netns if line.strip()),
        links=_links() if root else {},
        nat_rules=frozenset(line for line in nat.splitlines() if "cairn" in line),
    )
