"""What to run and how to isolate it: a subset of the OCI runtime spec, as frozen values.

The runtime knows nothing of images: its caller (builder) resolves an image to overlay
lower directories, a user to numeric ids, and a command to argv before building a Spec.
Tests build variants with dataclasses.replace on one field, as crun's tests do.
"""

from __future__ import annotations

from dataclasses import field

from .record import Record, record

# docker's default capability set (moby/oci/caps/defaults.go)
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

CAPABILITY_NUMBERS = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
    "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
}

# runc's defaults for what a container may not see or change in /proc and /sys
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

NAMESPACES = frozenset({"mount", "pid", "uts", "ipc", "network", "cgroup"})


@record
class Process(Record):
    args: tuple[str, ...]
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    terminal: bool = False
    capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES
    no_new_privileges: bool = True
    seccomp: bool = True  # docker's default seccomp profile (runtime.seccomp_profile)
    init: bool = False  # --init: tini is PID 1, reaps orphans and forwards signals to the command
    # setrlimit before exec, as OCI's process.rlimits: (type such as "RLIMIT_NOFILE", soft, hard); -1 is unlimited
    rlimits: tuple[tuple[str, int, int], ...] = ()
    seccomp_profile: object = None  # a runtime.seccomp_json.Profile loaded instead of docker's default


@record
class Overlay(Record):
    """lowerdirs top first, as overlayfs takes them; upper and work on the same filesystem."""

    lowerdirs: tuple[str, ...]
    upperdir: str
    workdir: str


@record
class Root(Record):
    path: str  # the mount point the root is assembled at (or a plain directory to use as is)
    overlay: Overlay | None = None
    readonly: bool = False


@record
class Mount(Record):
    destination: str
    type: str  # bind | tmpfs | proc | sysfs | devpts | mqueue | overlay (read-only, lowerdir=... option)
    source: str = ""
    options: tuple[str, ...] = ()  # ro, rw, nosuid, nodev, noexec, mode=..., size=...
    copy_up: bool = False  # bind of an empty volume: first filled with what the root has there (runtime.copy_up)
    # (root, rel, st_dev, st_ino): the source (a bind's, or one of an overlay's lowers) is root/rel in an
    # untrusted tree, opened link by link when mounted and used only while it is still that entry
    pinned: tuple = ()


@record
class Device(Record):
    """A host device node the container gets at `path` under /dev, and may open."""

    path: str  # relative to /dev: "fuse", "net/tun"
    kind: str  # "c" or "b"
    major: int
    minor: int


@record
class Resources(Record):
    memory: int | None = None  # bytes
    cpus: float | None = None
    pids: int | None = None
    memory_swap: int | None = None  # memory plus swap, bytes; -1 unlimited; None: docker's default, twice memory
    cpu_quota: int | None = None  # CFS quota and period in microseconds (docker's --cpu-quota, --cpu-period)
    cpu_period: int | None = None


@record
class Spec(Record):
    process: Process
    root: Root
    hostname: str = ""
    mounts: tuple[Mount, ...] = ()
    namespaces: frozenset[str] = NAMESPACES
    resources: Resources = field(default_factory=Resources)
    # Files the container sees at these paths (contents written by the caller):
    # /etc/hosts, /etc/hostname, /etc/resolv.conf.
    files: tuple[tuple[str, str], ...] = ()
    masked_paths: tuple[str, ...] = MASKED_PATHS
    readonly_paths: tuple[str, ...] = READONLY_PATHS
    # "none": an own network namespace with only lo up; "bridge": the same, and the
    # caller wires it (veth, addresses) while the process waits; "host": the host's;
    # a path such as /run/netns/x: join that namespace.
    network: str = "none"
    devices: tuple[Device, ...] = ()  # beyond docker's default nodes (RUN --security=insecure)
    writable_sysfs: bool = False
    # mounts without nodev: any node the process makes can be opened, as far as the
    # device cgroup (the caller's) allows
    dev_nodes_anywhere: bool = False
