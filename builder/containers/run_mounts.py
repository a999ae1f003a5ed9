"""docker's mount flags for `cairn run`, parsed into MountRequest values: `--mount` (CSV,
docker's keys), `--tmpfs PATH[:OPTS]`, and `-v NAME:/path` / `-v /path` (named and
anonymous volumes). Pure parsing; builder.containers.run_fs turns the values into mounts.

A bad value is a UsageError (`cairn run` exits 125, as docker run); what docker means and
cairn cannot honour is Refused (exit 2) with the reason: bind propagation other than
private, volume drivers and their options, `dev` on a tmpfs (every container mount is
nodev: devices come only with --device).
"""

from __future__ import annotations

import os
import posixpath
import re

from runtime.record import Record, record

from ..errors import Refused, UsageError

VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")  # docker's rule for local volume names
TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev")  # docker's, for --tmpfs and --mount type=tmpfs
_SIZE = re.compile(r"^[0-9]+[kmgKMG%]?$")
_OPPOSITES = {"exec": "noexec", "noexec": "exec", "suid": "nosuid", "nosuid": "suid", "ro": "rw", "rw": "ro"}  # a later option takes its opposite away
_TMPFS_VALUED = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks")
_TMPFS_FLAGS = ("ro", "rw", "noexec", "exec", "nosuid", "suid", "nodev", "noatime", "relatime", "strictatime",
                "nodiratime", "sync", "dirsync")


@record
class MountRequest(Record):
    kind: str  # bind | tmpfs | volume
    target: str  # absolute path in the container
    source: str = ""  # bind: host path; volume: name ("" = anonymous); tmpfs: unused
    readonly: bool = False
    options: tuple[str, ...] = ()  # tmpfs: mount options (size=, mode=, noexec, ...)
    nocopy: bool = False  # volume: do not fill a new volume from the image
    labels: tuple[tuple[str, str], ...] = ()  # volume: --mount volume-label=K=V, given when it is created


def check_volume_name(name: str, flag: str) -> str:
    """A volume name as docker allows it: never a path, so it never leaves the volume store."""
    if not VOLUME_NAME.match(name):
        raise UsageError(f'invalid {flag}: "{name}" includes invalid characters for a local volume name, only '
                         f'"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
                         f"use absolute path")
    return name


def _target(path: str, flag: str) -> str:
    if not path:
        raise UsageError(f"invalid {flag}: the target (destination) is missing")
    if not path.startswith("/"):
        raise UsageError(f"invalid {flag}: invalid mount path: '{path}' mount path must be absolute")
    target = posixpath.normpath(path)
    if target == "/":
        raise UsageError(f"invalid {flag}: invalid specification: destination can't be '/'")
    return target


def _merge_tmpfs(options: list[str], flag: str) -> tuple[str, ...]:
    """docker's defaults, then the user's: a later flag overrides its opposite."""
    out = list(TMPFS_DEFAULTS)
    for opt in options:
        key, eq, value = opt.partition("=")
        if eq:
            if key not in _TMPFS_VALUED:
                raise UsageError(f"invalid {flag}: unknown tmpfs option {opt!r}")
            if key == "size" and not _SIZE.match(value):
                raise UsageError(f"invalid {flag}: size={value!r}: write it like 64m, 1g or 50%")
            if key == "mode" and not re.match(r"^[0-7]{1,4}$", value):
                raise UsageError(f"invalid {flag}: mode={value!r}: an octal mode such as 1777")
            if key in ("uid", "gid", "nr_inodes", "nr_blocks") and not value.isdigit():
                raise UsageError(f"invalid {flag}: {key}={value!r}: a number")
            out = [o for o in out if o.partition("=")[0] != key] + [opt]
            continue
        if opt == "dev":
            raise Refused(f"invalid {flag}: 'dev' is not supported: every container mount is nodev in cairn; "
                             "give device nodes with --device")
        if opt not in _TMPFS_FLAGS:
            raise UsageError(f"invalid {flag}: unknown tmpfs option {opt!r}")
        out = [o for o in out if o not in (opt, _OPPOSITES.get(opt))] + [opt]
    return tuple(o for o in out if o not in ("exec", "suid", "rw"))


def parse_tmpfs(text: str) -> MountRequest:
    """`--tmpfs /run` or `--tmpfs /run:rw,noexec,nosuid,size=65536k`."""
    path, _, opts = text.partition(":")
    flag = f"--tmpfs {text!r}"
    options = _merge_tmpfs([o for o in opts.split(",") if o], flag)
    return MountRequest("tmpfs", _target(path, flag), options=options, readonly="ro" in options)


def _bool(key: str, value: str | None, flag: str) -> bool:
    if value is None:
        return True
    low = value.lower()
    if low in ("1", "true"):
        return True
    if low in ("0", "false"):
        return False
    raise UsageError(f"invalid {flag}: invalid value for {key}: {value}")


def _fields(text: str, flag: str) -> list[tuple[str, str | None]]:
    import csv  # (here: only --mount is CSV)

    try:
        rows = list(csv.reader([text]))
    except csv.Error as err:
        raise UsageError(f"invalid {flag}: {err}") from None
    out = []
    for field in rows[0] if rows else []:
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if not key:
            raise UsageError(f"invalid {flag}: invalid field '{field}' must be a key=value pair")
        out.append((key, value if eq else None))
    return out


def parse_mount(text: str) -> MountRequest:
    """`--mount type=bind,source=/src,target=/app,readonly` and the other forms docker takes."""
    flag = f"--mount {text!r}"
    kind, source, target, readonly, nocopy = "volume", "", "", False, False
    labels: list[tuple[str, str]] = []
    tmpfs: list[str] = []
    seen: set[str] = set()
    for key, value in _fields(text, flag):
        seen.add(key)
        if key in ("readonly", "ro"):
            readonly = _bool(key, value, flag)
            continue
        if key == "volume-nocopy":
            nocopy = _bool(key, value, flag)
            continue
        if value is None:
            raise UsageError(f"invalid {flag}: invalid field '{key}' must be a key=value pair")
        if key == "type":
            kind = value.lower()
            if kind not in ("bind", "tmpfs", "volume"):
                raise Refused(f"invalid {flag}: type {value!r} is not supported: use bind, tmpfs or volume")
        elif key in ("source", "src"):
            source = value
        elif key in ("target", "destination", "dst"):
            target = value
        elif key == "bind-propagation":
            if value not in ("rprivate", "private"):
                raise Refused(f"invalid {flag}: bind-propagation={value} is not supported: container "
                                 "mounts are private (rprivate, docker's default); nothing propagates")
        elif key == "bind-recursive":
            if value != "enabled":
                raise Refused(f"invalid {flag}: bind-recursive={value} is not supported: binds are "
                                 "recursive (enabled, docker's default)")
        elif key == "bind-nonrecursive":
            if _bool(key, value, flag):
                raise Refused(f"invalid {flag}: bind-nonrecursive is not supported: binds are recursive")
        elif key == "consistency":
            if value not in ("consistent", "cached", "delegated", "default"):
                raise UsageError(f"invalid {flag}: invalid consistency {value!r}")
        elif key == "volume-driver":
            if value != "local":
                raise Refused(f"invalid {flag}: volume-driver={value} is not supported: cairn keeps "
                                 "volumes in its store (the local driver)")
        elif key == "volume-label":
            name, eq, label = value.partition("=")
            if not name:
                raise UsageError(f"invalid {flag}: volume-label wants KEY=VALUE")
            labels.append((name, label))
        elif key in ("volume-opt", "volume-subpath"):
            raise Refused(f"invalid {flag}: {key} is not supported: cairn's volumes are plain directories "
                             "in its store, with no driver options or sub-paths")
        elif key == "tmpfs-size":
            if not _SIZE.match(value):
                raise UsageError(f"invalid {flag}: tmpfs-size={value!r}: write it like 64m or 1g")
            tmpfs.append(f"size={value}")
        elif key == "tmpfs-mode":
            if not re.match(r"^0?[0-7]{1,4}$", value):
                raise UsageError(f"invalid {flag}: tmpfs-mode={value!r}: an octal mode such as 1770")
            tmpfs.append(f"mode={int(value, 8):o}")
        else:
            raise UsageError(f"invalid {flag}: unexpected key '{key}'")
    prefixes = {"bind": ("bind-",), "volume": ("volume-",), "tmpfs": ("tmpfs-",)}
    for key in seen:
        for other, starts in prefixes.items():
            if other != kind and key.startswith(starts):
                raise UsageError(f"invalid {flag}: cannot mix '{starts[0]}*' options with mount type '{kind}'")
    target = _target(target, flag)
    if kind == "tmpfs":
        if source:
            raise UsageError(f"invalid {flag}: a tmpfs mount takes no source")
        options = _merge_tmpfs(tmpfs + (["ro"] if readonly else []), flag)
        return MountRequest("tmpfs", target, options=options, readonly=readonly)
    if kind == "bind":
        if not source:
            raise UsageError(f"invalid {flag}: a bind mount needs source=HOST_PATH")
        if not source.startswith("/"):
            raise UsageError(f"invalid {flag}: invalid mount config for type \"bind\": invalid mount path: "
                             f"'{source}' mount path must be absolute")
        if not os.path.exists(source):
            raise UsageError(f"invalid {flag}: invalid mount config for type \"bind\": bind source path does not "
                             f"exist: {source}")
        return MountRequest("bind", target, os.path.abspath(source), readonly)
    if source:
        check_volume_name(source, flag)
    return MountRequest("volume", target, source, readonly, nocopy=nocopy, labels=tuple(labels))


def parse_volume_flag(text: str) -> MountRequest | None:
    """`-v NAME:/path[:ro]` and `-v /path` (anonymous); None for a host bind (`-v /src:/dst`),
    which builder.containers.run.Volume parses."""
    parts = text.split(":")
    flag = f"-v {text!r}"
    if len(parts) == 1:
        return MountRequest("volume", _target(parts[0], flag))
    if parts[0].startswith("/") or len(parts) > 3:
        return None
    mode = parts[2] if len(parts) == 3 else "rw"
    options = set(mode.split(","))
    if not options <= {"ro", "rw", "nocopy"} or {"ro", "rw"} <= options:
        raise UsageError(f"invalid {flag}: mode must be ro, rw or nocopy, not {mode!r}")
    check_volume_name(parts[0], flag)
    return MountRequest("volume", _target(parts[1], flag), parts[0], "ro" in options, nocopy="nocopy" in options)
