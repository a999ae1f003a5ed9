"""What `cairn build`'s resource flags give every RUN step, in docker build's syntax:
--shm-size (the size of /dev/shm), --ulimit NAME=SOFT[:HARD] (repeatable), --cgroup-parent,
-m/--memory, --memory-swap, --cpu-quota and --cpu-period.

They change what a RUN sees (`ulimit -n`, `df /dev/shm`, an allocation that fits or is
killed), so, as in BuildKit, whose exec op carries them, the ones given enter the RUN's
cache key; a build that gives none keeps the keys it had.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import TYPE_CHECKING

from runtime.record import Record, record

from ..errors import UsageError
from ..units import ram_in_bytes

if TYPE_CHECKING:  # (the runtime loads when a RUN step runs, not when a cached build keys one)
    from runtime.spec import Mount, Resources

# docker's ulimit names (go-units), as OCI rlimit types; "as" is left out, as docker does
ULIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
           "rtprio", "rttime", "sigpending", "stack")
MIN_MEMORY = 6 << 20  # docker's minimum for --memory


@record
class RunResources(Record):
    shm_size: int | None = None  # bytes
    ulimits: tuple[tuple[str, int, int], ...] = ()  # (name, soft, hard), -1 unlimited
    cgroup_parent: str | None = None
    memory: int | None = None
    memory_swap: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None

    def key(self) -> dict:
        """The flags given, for the RUN's cache key (empty when none)."""
        return {k: list(map(list, v)) if k == "ulimits" else v for k, v in asdict(self).items() if v}

    def rlimits(self) -> tuple[tuple[str, int, int], ...]:
        return tuple((f"RLIMIT_{name.upper()}", soft, hard) for name, soft, hard in self.ulimits)

    def resources(self) -> Resources:
        from runtime.spec import Resources

        return Resources(memory=self.memory, memory_swap=self.memory_swap, cpu_quota=self.cpu_quota,
                         cpu_period=self.cpu_period)

    def mounts(self) -> tuple[Mount, ...]:
        """/dev/shm of the given size, over the runtime's default (64 MiB), as docker's ShmSize."""
        from runtime.spec import Mount

        if not self.shm_size:
            return ()
        return (Mount("/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777", f"size={self.shm_size}")),)


def parse(shm_size: str | None = None, ulimits: tuple[str, ...] = (), cgroup_parent: str | None = None,
          memory: str | None = None, memory_swap: str | None = None, cpu_quota: int | None = None,
          cpu_period: int | None = None) -> RunResources:
    """The flags as typed; UsageError naming the flag for a value docker would refuse."""
    mem = _size("-m/--memory", memory)
    if mem is not None and mem < MIN_MEMORY:
        raise UsageError(f"invalid -m/--memory {memory!r}: the minimum is 6m")
    swap = -1 if memory_swap is not None and memory_swap.strip() == "-1" else _size("--memory-swap", memory_swap)
    if swap is not None and mem is None:
        raise UsageError("--memory-swap needs -m/--memory (it is memory plus swap)")
    if swap is not None and swap != -1 and mem is not None and swap < mem:
        raise UsageError(f"invalid --memory-swap {memory_swap!r}: it is memory plus swap, so at least -m/--memory")
    if cpu_quota is not None and cpu_quota != -1 and cpu_quota < 1000:
        raise UsageError(f"invalid --cpu-quota {cpu_quota}: at least 1000 (1ms), or -1 for none")
    if cpu_period is not None and not 1000 <= cpu_period <= 1_000_000:
        raise UsageError(f"invalid --cpu-period {cpu_period}: from 1000 to 1000000 microseconds")
    if cgroup_parent:  # an empty one is docker's default: none
        try:
            from runtime.cgroups import check_parent

            check_parent(cgroup_parent)
        except ValueError as err:
            raise UsageError(f"invalid --cgroup-parent: {err}") from None
    limits: dict[str, tuple[int, int]] = {}
    for text in ulimits:
        name, soft, hard = parse_ulimit(text)
        limits[name] = (soft, hard)  # a name given again: the last one wins, as docker
    return RunResources(_size("--shm-size", shm_size) or None, tuple((n, *v) for n, v in sorted(limits.items())),
                        cgroup_parent or None, mem, swap, None if cpu_quota in (None, -1, 0) else cpu_quota,
                        cpu_period or None)


def _size(flag: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return ram_in_bytes(value)
    except ValueError:
        raise UsageError(f"invalid {flag} {value!r}: a size in bytes, or with a unit as in 64m or 1g") from None


def parse_ulimit(text: str) -> tuple[str, int, int]:
    """`nofile=1024:2048` (soft:hard) or `nofile=1024` (both); -1 is unlimited."""
    name, eq, values = text.partition("=")
    if not eq:
        raise UsageError(f"invalid --ulimit {text!r}: expected NAME=SOFT[:HARD], as nofile=1024:2048")
    if name not in ULIMITS:
        raise UsageError(f"invalid --ulimit {text!r}: unknown limit {name!r}; docker's names are {', '.join(ULIMITS)}")
    parts = values.split(":")
    if len(parts) > 2:
        raise UsageError(f"invalid --ulimit {text!r}: at most two values, SOFT[:HARD]")
    if not all(re.fullmatch(r"-1|\d{1,18}", p) for p in parts):
        raise UsageError(f"invalid --ulimit {text!r}: a limit is a whole number of 0 or more, or -1 for unlimited")
    soft, hard = int(parts[0]), int(parts[-1])
    if hard != -1 and (soft == -1 or soft > hard):
        raise UsageError(f"invalid --ulimit {text!r}: the soft limit must not be above the hard limit")
    return name, soft, hard
