"""Resource limits through cgroups: v2 where its controllers are enabled, otherwise v1.

A container's cgroup is made under the cgroup this process is in (per controller),
at `.../cairn/<id>`, and removed after the container ends. It holds docker's device
allow-list (runtime.devices) from the start: the v1 devices controller, and an eBPF
device program on the v2 tree (runtime.device_bpf). This machine is hybrid: its
controllers are on v1 and cgroup2 (unified) has none.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from . import device_bpf
from .devices import ALLOWED, set_v1_rules
from .spec import Resources

V1_CONTROLLERS = ("memory", "cpu", "pids", "devices")
_CFS_PERIOD = 100_000


class CgroupError(OSError):
    pass


def _own_paths() -> dict[str, str]:
    out = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _id, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(","):
                out[c if c else "unified"] = path
    return out


def _mounts() -> dict[str, str]:
    """controller (or 'unified') -> mount point"""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = right.split()
            point = left.split()[4]
            if fields[0] == "cgroup2":
                out.setdefault("unified", point)
            elif fields[0] == "cgroup":
                for opt in fields[2].split(","):
                    if opt in V1_CONTROLLERS or opt.startswith("name="):
                        out.setdefault(opt, point)
    return out


def _v2_usable(mounts: dict[str, str], own: dict[str, str]) -> Path | None:
    point = mounts.get("unified")
    if point is None:
        return None
    base = Path(point) / own.get("unified", "/").lstrip("/")
    try:
        controllers = (Path(point) / "cgroup.controllers").read_text().split()
    except OSError:
        return None
    if {"memory", "pids"} <= set(controllers):
        return base
    return None


def _mkdir(path: Path) -> None:
    """mkdir -p that survives another container removing the shared parent meanwhile."""
    for _ in range(5):
        try:
            path.mkdir(parents=True, exist_ok=True)
            return
        except FileNotFoundError:
            continue
    path.mkdir(parents=True, exist_ok=True)


@dataclass
class Cgroup:
    name: str
    version: int
    paths: dict[str, Path]  # controller -> directory (v2: {"unified": dir})

    @staticmethod
    def _locations(name: str) -> tuple[int, dict[str, Path]]:
        """Where the cgroup called `name` lives: (version, controller -> directory)."""
        mounts, own = _mounts(), _own_paths()
        v2 = _v2_usable(mounts, own)
        if v2 is not None:
            return 2, {"unified": v2 / "cairn" / name}
        paths = {ctrl: Path(mounts[ctrl]) / own.get(ctrl, "/").lstrip("/") / "cairn" / name
                 for ctrl in V1_CONTROLLERS if ctrl in mounts}
        if "unified" in mounts:  # hybrid: the v2 tree holds the device program as well
            paths["unified"] = Path(mounts["unified"]) / own.get("unified", "/").lstrip("/") / "cairn" / name
        return 1, paths

    @classmethod
    def existing(cls, name: str) -> "Cgroup | None":
        """The cgroup `create(name)` made, if it is still there (for cleaning up after a crash)."""
        version, paths = cls._locations(name)
        paths = {ctrl: path for ctrl, path in paths.items() if path.is_dir()}
        return cls(name, version, paths) if paths else None

    @classmethod
    def names(cls) -> list[str]:
        """The names of the cgroups `create` has made and nobody removed yet (any controller)."""
        _version, paths = cls._locations("-")
        found: set[str] = set()
        for path in paths.values():
            try:
                found.update(entry.name for entry in path.parent.iterdir() if entry.is_dir())
            except OSError:
                pass
        return sorted(found)

    @classmethod
    def create(cls, name: str) -> "Cgroup":
        version, paths = cls._locations(name)
        for path in paths.values():
            _mkdir(path)
        cgroup = cls(name, version, paths)
        try:
            cgroup._restrict_devices()
        except BaseException:
            cgroup.destroy()
            raise
        return cgroup

    def _restrict_devices(self) -> None:
        """docker's device allow-list: the devices controller on v1, an eBPF program on v2
        (on a hybrid machine both; there the program is a second fence, so a kernel that
        cannot load it is not an error)."""
        if "devices" in self.paths:
            set_v1_rules(self.paths["devices"])
        if "unified" in self.paths:
            try:
                device_bpf.attach(str(self.paths["unified"]), ALLOWED)
            except OSError as err:
                if self.version == 2:
                    raise CgroupError(err.errno, f"cannot restrict the container's devices: {err.strerror}") from None

    def _write(self, ctrl: str, filename: str, value: str) -> bool:
        path = self.paths.get(ctrl)
        if path is None:
            return False
        try:
            (path / filename).write_text(value)
            return True
        except FileNotFoundError:
            return False

    def apply(self, res: Resources) -> None:
        if self.version == 2:
            if res.memory:
                self._write("unified", "memory.max", str(res.memory))
                self._write("unified", "memory.swap.max", str(res.memory))
            if res.cpus:
                self._write("unified", "cpu.max", f"{int(res.cpus * _CFS_PERIOD)} {_CFS_PERIOD}")
            if res.pids:
                self._write("unified", "pids.max", str(res.pids))
            return
        if res.memory:
            self._write("memory", "memory.limit_in_bytes", str(res.memory))
            # docker's default --memory-swap is twice --memory
            self._write("memory", "memory.memsw.limit_in_bytes", str(2 * res.memory))
        if res.cpus:
            self._write("cpu", "cpu.cfs_period_us", str(_CFS_PERIOD))
            self._write("cpu", "cpu.cfs_quota_us", str(int(res.cpus * _CFS_PERIOD)))
        if res.pids:
            self._write("pids", "pids.max", str(res.pids))

    def add(self, pid: int) -> None:
        for ctrl in self.paths:
            (self.paths[ctrl] / "cgroup.procs").write_text(str(pid))

    def oom_killed(self) -> bool:
        if self.version == 2:
            text = self._read("unified", "memory.events")
        else:
            text = self._read("memory", "memory.oom_control")
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip() not in ("", "0"):
                return True
        return False

    def _read(self, ctrl: str, filename: str) -> str:
        try:
            return (self.paths[ctrl] / filename).read_text()
        except (KeyError, OSError):
            return ""

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.paths.values():
            try:
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(found)

    def destroy(self, timeout: float = 10.0) -> None:
        """Kill what is left in the cgroup and remove it (bounded in time)."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids()
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            removed = True
            for path in self.paths.values():
                try:
                    path.rmdir()
                except FileNotFoundError:
                    pass
                except OSError as err:
                    if err.errno != errno.EBUSY:
                        raise
                    removed = False
            if removed:
                break
            if time.monotonic() > deadline:
                raise CgroupError(errno.EBUSY, f"cgroup {self.name} still busy after {timeout}s")
            time.sleep(0.02)
        for path in self.paths.values():
            try:
                path.parent.rmdir()  # the shared "cairn" directory, if it is now empty
            except OSError:
                pass
