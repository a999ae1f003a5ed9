"""Resource limits through cgroups: v2 where its controllers are enabled, otherwise v1.

A container's cgroup is made under the cgroup this process is in (per controller),
at `.../cairn/<id>`, and removed after the container ends. Given a parent (docker's
--cgroup-parent) it is made at `<parent>/<id>` instead, as runc places it: an absolute
parent from the root of each hierarchy, a relative one under this process's own cgroup;
a missing parent is made, and left in place afterwards as docker leaves it. The cgroup
holds docker's device allow-list (runtime.devices) from the start: the v1 devices
controller, and an eBPF device program on the v2 tree (runtime.device_bpf). This
machine is hybrid: its controllers are on v1 and cgroup2 (unified) has none.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

from . import cgroup_pool, device_bpf
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


def check_parent(parent: str) -> str:
    """A --cgroup-parent as a relative path below its base; ValueError for one that climbs out."""
    parts = [p for p in parent.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"{parent!r} is not a cgroup path below the hierarchy (no '..', not empty)")
    return "/".join(parts)


class Cgroup:
    # (a plain class: a dataclass costs every container start ~1 ms to define)
    def __init__(self, name: str, version: int, paths: dict[str, Path], parent: str | None = None):
        self.name, self.version = name, version
        self.paths = paths  # controller -> directory (v2: {"unified": dir})
        self.parent = parent  # as given (--cgroup-parent); None: the shared "cairn" directory
        self.pooled = False  # its v1 directories may come from runtime.cgroup_pool

    def __repr__(self) -> str:
        return f"Cgroup({self.name!r}, {self.version}, {self.paths!r}, {self.parent!r})"

    @staticmethod
    def _locations(name: str, parent: str | None = None) -> tuple[int, dict[str, Path]]:
        """Where the cgroup called `name` lives: (version, controller -> directory)."""
        mounts, own = _mounts(), _own_paths()
        below = "cairn" if parent is None else check_parent(parent)

        def place(ctrl: str) -> Path:
            base = "" if parent is not None and parent.startswith("/") else own.get(ctrl, "/").lstrip("/")
            return Path(mounts[ctrl]) / base / below / name

        if _v2_usable(mounts, own) is not None:
            return 2, {"unified": place("unified")}
        paths = {ctrl: place(ctrl) for ctrl in V1_CONTROLLERS if ctrl in mounts}
        if "unified" in mounts:  # hybrid: the v2 tree holds the device program as well
            paths["unified"] = place("unified")
        return 1, paths

    @classmethod
    def existing(cls, name: str, parent: str | None = None) -> "Cgroup | None":
        """The cgroup `create(name, parent)` made, if it is still there (for cleaning up after a crash)."""
        version, paths = cls._locations(name, parent)
        paths = {ctrl: path for ctrl, path in paths.items() if path.is_dir()}
        return cls(name, version, paths, parent) if paths else None

    @classmethod
    def names(cls, parent: str | None = None) -> list[str]:
        """The names of the cgroups below `parent` (default: those `create` has made and
        nobody removed yet), in any controller."""
        _version, paths = cls._locations("-", parent)
        found: set[str] = set()
        for path in paths.values():
            try:
                # (not the pool's spare directories: runtime.cgroup_pool)
                found.update(e.name for e in path.parent.iterdir() if e.is_dir() and not e.name.startswith("."))
            except OSError:
                pass
        return sorted(found)

    @classmethod
    def create(cls, name: str, parent: str | None = None, devices=ALLOWED, pooled: bool = False) -> "Cgroup":
        """`devices`: the allow-list's rules, as runtime.devices.ALLOWED (docker's default).
        `pooled`: take the v1 directories from runtime.cgroup_pool where it has an entry
        (only with no parent and the default devices); the caller refills it (`refill_pool`)."""
        version, paths = cls._locations(name, parent)
        cgroup = cls(name, version, {}, parent)
        cgroup.pooled = pooled and version == 1 and parent is None and devices == ALLOWED
        try:
            taken = cgroup_pool.take(paths, devices) if cgroup.pooled else set()
            for ctrl, path in paths.items():
                if ctrl not in taken:
                    _mkdir(path)
                cgroup.paths[ctrl] = path
            cgroup._restrict_devices(devices, v1_set="devices" in taken)
        except BaseException:
            cgroup.destroy()
            raise
        return cgroup

    def refill_pool(self) -> None:
        """Make the pool's entries `create(pooled=True)` took (while the container runs)."""
        if self.pooled:
            cgroup_pool.refill(self.paths, ALLOWED)

    @classmethod
    def drain_pool(cls) -> int:
        """Remove the pool's spare directories (see runtime.cgroup_pool.drain)."""
        version, paths = cls._locations("-")
        return cgroup_pool.drain(paths) if version == 1 else 0

    def _restrict_devices(self, rules, v1_set: bool = False) -> None:
        """docker's device allow-list: the devices controller on v1, an eBPF program on v2
        (on a hybrid machine both; there the program is a second fence, so a kernel that
        cannot load it is not an error). `v1_set`: a pool entry's devices directory, made
        with these rules."""
        if "devices" in self.paths and not v1_set:
            set_v1_rules(self.paths["devices"], rules)
        if "unified" in self.paths:
            try:
                device_bpf.attach(str(self.paths["unified"]), rules)
            except OSError as err:
                if self.version == 2:
                    raise CgroupError(err.errno, f"cannot restrict the container's devices: {err.strerror}") from None

    def _write(self, ctrl: str, filename: str, value: str, required: bool = True) -> None:
        """A limit asked for that cannot be set is an error, never a silent no-limit (a v2
        host whose cgroup above ours does not delegate the controller has no such file)."""
        path = self.paths.get(ctrl)
        try:
            if path is None:
                raise FileNotFoundError
            fd = os.open(path / filename, os.O_WRONLY)  # never created: cgroupfs says EACCES to that
            try:
                os.write(fd, value.encode())
            finally:
                os.close(fd)
        except FileNotFoundError:
            if required:
                where = f"in {path}" if path is not None else "on this host"
                raise CgroupError(errno.ENOTSUP, f"cannot set the {ctrl} limit: no {filename} {where}") from None

    def apply(self, res: Resources) -> None:
        period = res.cpu_period or _CFS_PERIOD
        quota = res.cpu_quota or (int(res.cpus * period) if res.cpus else None)
        # docker's default --memory-swap is twice --memory; -1 lifts the swap limit (a host
        # without swap accounting has no file for it: memory alone is then the limit)
        swap = res.memory_swap if res.memory_swap is not None else 2 * (res.memory or 0)
        if self.version == 2:
            if res.memory:
                self._write("unified", "memory.max", str(res.memory))
                self._write("unified", "memory.swap.max", "max" if swap < 0 else str(swap - res.memory), False)
            if quota or res.cpu_period:
                self._write("unified", "cpu.max", f"{quota or 'max'} {period}")
            if res.pids:
                self._write("unified", "pids.max", str(res.pids))
            return
        if res.memory:
            self._write("memory", "memory.limit_in_bytes", str(res.memory))
            self._write("memory", "memory.memsw.limit_in_bytes", str(swap), False)
        if quota or res.cpu_period:
            self._write("cpu", "cpu.cfs_period_us", str(period))
        if quota:
            self._write("cpu", "cpu.cfs_quota_us", str(quota))
        if res.pids:
            self._write("pids", "pids.max", str(res.pids))

    def add(self, pid: int) -> None:
        for ctrl in self.paths:
            (self.paths[ctrl] / "cgroup.procs").write_text(str(pid))

    @staticmethod
    def warm_attach() -> None:
        """"Move" this process into the cgroup it is already in: a no-op for the kernel
        (nothing migrates, no limit or charge changes) that waits out the RCU grace period
        the first cgroup.procs write after a quiet spell waits (cgroup_threadgroup_rwsem's
        switch to writer mode, 6-15 ms here). The switch stays for a grace period after the
        last writer, so an attach soon after does not wait again. Errors are ignored (it
        only saves time). A manager moving cairn in the microseconds between the read of
        /proc/self/cgroup and the write would see it moved back to where it was."""
        try:
            own, mounts = _own_paths(), _mounts()
            ctrl = next(c for c in ("pids", *V1_CONTROLLERS, "unified") if c in mounts and c in own)
            with open(f"{mounts[ctrl]}{own[ctrl].rstrip('/')}/cgroup.procs", "w") as f:
                f.write(str(os.getpid()))
        except (OSError, StopIteration, ValueError):
            pass

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
        if self.parent is not None:
            return  # a --cgroup-parent is the user's: it stays
        for path in self.paths.values():
            try:
                path.parent.rmdir()  # the shared "cairn" directory, if it is now empty
            except OSError:
                pass
