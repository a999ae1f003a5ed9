"""Process resource limits (OCI process.rlimits): set in the container's PID 1 before its
privileges are dropped, so that a hard limit may be raised as well as lowered, and then
inherited by everything the command starts."""

from __future__ import annotations

import resource

# Linux's RLIMIT_* numbers (asm-generic/resource.h), by their OCI names
NUMBERS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}


def apply(rlimits: tuple[tuple[str, int, int], ...]) -> None:
    """Raises OSError naming the limit that the kernel refused (nofile above fs.nr_open...)."""
    for name, soft, hard in rlimits:
        limits = tuple(resource.RLIM_INFINITY if v < 0 else v for v in (soft, hard))
        try:
            resource.setrlimit(NUMBERS[name], limits)
        except (OSError, ValueError) as err:
            shown = ":".join("unlimited" if v < 0 else str(v) for v in (soft, hard))
            reason = getattr(err, "strerror", None) or str(err)
            raise OSError(getattr(err, "errno", None) or 22, f"cannot set {name} to {shown}: {reason}") from None
