"""BuildKit's insecure mode (`RUN --security=insecure`): a Spec with the sandbox taken off.

The process keeps every capability this process holds, with no seccomp filter and
no_new_privs off; /proc and /sys are neither masked nor read-only (and /sys is writable);
the device cgroup allows every device and no mount is nodev (a node made with mknod opens,
as under runc); /dev gets the host's kmsg, cuse, fuse, kvm, net/tun,
loop-control and loop0..loopN (the first free loop device and seven more). This hands the
host to the process on purpose; the caller allows it only when the user said so.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import replace

from .spec import CAPABILITY_NUMBERS, Device, Spec

ALL_DEVICES = (("c", None, None, "rwm"), ("b", None, None, "rwm"))  # cgroup rules
NODES = (Device("kmsg", "c", 1, 11), Device("cuse", "c", 10, 203), Device("fuse", "c", 10, 229),
         Device("kvm", "c", 10, 232), Device("net/tun", "c", 10, 200), Device("loop-control", "c", 10, 237))
_LOOP_CTL_GET_FREE = 0x4C82
EXTRA_LOOPS = 7


def held_capabilities() -> tuple[str, ...]:
    """The capabilities in this process's effective set (what it can hand on)."""
    try:
        with open("/proc/self/status") as f:
            mask = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return ()
    return tuple(name for name, bit in CAPABILITY_NUMBERS.items() if mask >> bit & 1)


def free_loop() -> int:
    """The number of the first free loop device (0 when it cannot be asked)."""
    try:
        fd = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        return max(0, fcntl.ioctl(fd, _LOOP_CTL_GET_FREE))
    except OSError:
        return 0
    finally:
        os.close(fd)


def insecure(spec: Spec) -> Spec:
    """`spec` without the sandbox (the device cgroup is the caller's: ALL_DEVICES)."""
    loops = tuple(Device(f"loop{i}", "b", 7, i) for i in range(free_loop() + EXTRA_LOOPS + 1))
    process = replace(spec.process, capabilities=held_capabilities(), seccomp=False, no_new_privileges=False)
    return replace(spec, process=process, masked_paths=(), readonly_paths=(), writable_sysfs=True,
                   dev_nodes_anywhere=True, devices=spec.devices + NODES + loops)
