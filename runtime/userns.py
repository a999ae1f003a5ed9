"""Rootless mode: an ordinary user's cairn process moves into a user namespace of its own.

    cairn (uid U)    forks a helper, unshares a user and a mount namespace, says "go"
      helper         (still in the host's namespace) runs newuidmap/newgidmap on cairn's pid:
                     0 -> U, then 1.. -> the user's subordinate ranges (/etc/subuid, /etc/subgid)
    cairn            is root of that namespace from then on: overlay mounts, chown to any
                     mapped id, and namespaces for containers all work, as for root

The files cairn writes therefore hold the owners a root build writes (0 inside is U
outside, 1000 inside is a subordinate id), so layers, whose tar owners are read from the
files, get the same digests. With no subordinate range (or no newuidmap) the mapping is
U alone (a warning says so): only root inside exists, setgroups is denied, and a chown
to another id fails. The mount namespace is cairn's own: what it mounts vanishes with it.
Nothing here may run once a thread is started (unshare(CLONE_NEWUSER) refuses).
"""

from __future__ import annotations

import os
import sys

from . import syscalls as sc
from .record import Record, record

SUBUID = "/etc/subuid"
SUBGID = "/etc/subgid"


class UsernsError(OSError):
    """The user namespace could not be made; the message says why and what to install."""


@record
class IdMap(Record):
    """One line of uid_map/gid_map: ids inside..inside+count-1 are outside.. on the host."""

    inside: int
    outside: int
    count: int


@record
class Mapping(Record):
    host_uid: int
    host_gid: int
    user: str
    uids: tuple[IdMap, ...]
    gids: tuple[IdMap, ...]

    @property
    def single(self) -> bool:
        return len(self.uids) == 1 and len(self.gids) == 1

    def describe(self) -> str:
        def one(maps: tuple[IdMap, ...]) -> str:
            return ", ".join(f"{m.inside}-{m.inside + m.count - 1}->{m.outside}-{m.outside + m.count - 1}"
                             if m.count > 1 else f"{m.inside}->{m.outside}" for m in maps)

        return f"uid {one(self.uids)}; gid {one(self.gids)}"


_ACTIVE: Mapping | None = None


def active() -> Mapping | None:
    """The mapping this process entered, or None (root mode, or not entered yet)."""
    return _ACTIVE


def subordinate(path: str, user: str, uid: int) -> list[tuple[int, int]]:
    """The (start, count) ranges /etc/subuid-style `path` gives `user` (by name or number)."""
    out = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.strip().split(":")
        if len(fields) != 3 or fields[0] not in (user, str(uid)):
            continue
        try:
            start, count = int(fields[1]), int(fields[2])
        except ValueError:
            continue
        if count > 0 and start >= 0:
            out.append((start, count))
    return out


def _stack(own: int, ranges: list[tuple[int, int]]) -> tuple[IdMap, ...]:
    maps, inside = [IdMap(0, own, 1)], 1
    for start, count in ranges[:4]:  # the kernel takes at most 340 lines; newuidmap's callers use few
        maps.append(IdMap(inside, start, count))
        inside += count
    return tuple(maps)


def plan(uid: int | None = None, gid: int | None = None) -> tuple[Mapping, str | None]:
    """The mapping for this user and, for a single-id one, the warning that says why."""
    import pwd
    import shutil

    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    subuids, subgids = subordinate(SUBUID, user, uid), subordinate(SUBGID, user, uid)
    tools = shutil.which("newuidmap") and shutil.which("newgidmap")
    if subuids and subgids and tools:
        return Mapping(uid, gid, user, _stack(uid, subuids), _stack(gid, subgids)), None
    if not tools:
        why = "newuidmap/newgidmap are not installed (Debian's uidmap package)"
    else:
        why = f"{user} has no subordinate range in {SUBUID if not subuids else SUBGID}"
    warning = (f"warning: {why}: rootless mode maps only uid {uid} (root inside); files owned by other "
               f"users cannot be made (RUN useradd, chown, COPY --chown fail). Add a range, e.g. "
               f"`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}`")
    return Mapping(uid, gid, user, (IdMap(0, uid, 1),), (IdMap(0, gid, 1),)), warning


def _map_args(maps: tuple[IdMap, ...]) -> list[str]:
    return [str(v) for m in maps for v in (m.inside, m.outside, m.count)]


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter(warn=None) -> Mapping:
    """Move this (single-threaded, non-root) process into its own user and mount namespaces,
    as root of them. `warn(text)` gets the single-id warning (default: stderr)."""
    import subprocess
    import threading

    global _ACTIVE
    if _ACTIVE is not None:
        return _ACTIVE
    if threading.active_count() > 1:
        raise UsernsError(0, "rootless mode must be entered before any thread starts")
    mapping, warning = plan()
    if warning:
        (warn or (lambda text: print(f"cairn: {text}", file=sys.stderr)))(warning)
    parent = os.getpid()
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    helper = 0 if mapping.single else os.fork()
    if helper == 0 and not mapping.single:  # the helper, still in the host's user namespace
        os.close(go_w)
        os.close(err_r)
        code = 1
        try:
            if os.read(go_r, 1) == b"g":
                tools = [(tool, subprocess.Popen([tool, str(parent), *_map_args(maps)], stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
                         for tool, maps in (("newuidmap", mapping.uids), ("newgidmap", mapping.gids))]
                code = 0
                for tool, proc in tools:  # both at once: they write different files
                    _, err = proc.communicate()
                    if proc.returncode != 0:
                        os.write(err_w, f"{tool}: {err.decode(errors='replace').strip()}; ".encode())
                        code = 1
        finally:
            os._exit(code)
    os.close(go_r)
    os.close(err_w)
    try:
        ok = False
        try:
            sc.unshare(sc.CLONE_NEWUSER)
            ok = True
        except OSError as err:
            raise UsernsError(err.errno, f"cannot create a user namespace: {err.strerror} (is "
                                         f"user.max_user_namespaces 0?)") from None
        finally:
            if not mapping.single:
                os.write(go_w, b"g" if ok else b"x")
                os.close(go_w)
                _, status = os.waitpid(helper, 0)
        if mapping.single:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {mapping.host_uid} 1\n")
            _write("/proc/self/gid_map", f"0 {mapping.host_gid} 1\n")
        elif os.waitstatus_to_exitcode(status) != 0:
            message = os.read(err_r, 4096).decode(errors="replace")
            raise UsernsError(0, f"cannot map {mapping.user}'s ids into the user namespace: "
                                 f"{message or 'newuidmap/newgidmap failed'}")
    finally:
        os.close(err_r)
        if mapping.single:
            os.close(go_w)
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    _ACTIVE = mapping
    return mapping


def opaque_xattr() -> str:
    """The xattr that marks an opaque directory for overlayfs: a user namespace can neither
    set nor see trusted.*, so its mounts take `userxattr` and the user.overlay.* names."""
    return "user.overlay.opaque" if _ACTIVE is not None else "trusted.overlay.opaque"


def needed() -> bool:
    """True for an ordinary user's process that has not entered rootless mode yet."""
    return os.geteuid() != 0 and _ACTIVE is None
