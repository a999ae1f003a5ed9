"""Build outputs besides the store tag: `-o type=oci|docker,dest=FILE` (archives, as
`cairn save` writes them) and `-o type=local,dest=DIR` (the image's merged filesystem).

The local export writes into a host directory, so it writes through runtime.tree: nothing
the image holds, and no link an earlier export left in DIR, makes it write elsewhere (a
link standing where the image has a directory or file is replaced, never followed). The
image's block and character devices are never made on the host, and set-user/group-ID
bits are dropped: an image cannot plant a device node or a set-id program there."""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass, field

from runtime import tree
from runtime.tree import Tree

from ..errors import CairnError, UsageError
from ..merged_view import MergedView
from ..store import images
from ..store.store import Store


@dataclass(frozen=True)
class Output:
    type: str
    dest: str

    @classmethod
    def parse(cls, text: str) -> "Output":
        fields = {}
        for part in text.split(","):
            key, eq, value = part.partition("=")
            if not eq:
                raise UsageError(f"invalid -o {text!r}: expected type=oci|docker|local,dest=PATH")
            fields[key.strip()] = value.strip()
        kind, dest = fields.get("type"), fields.get("dest")
        if kind not in ("oci", "docker", "local"):
            raise UsageError(f"invalid -o {text!r}: type must be oci, docker or local")
        if not dest:
            raise UsageError(f"invalid -o {text!r}: dest=PATH is required")
        return cls(kind, dest)


def _warn(text: str) -> None:
    print(f"[warning] {text}", file=sys.stderr)


def write_output(store: Store, image: images.ImageRecord, out: Output, warn=_warn) -> None:
    if out.type in ("oci", "docker"):
        from ..archive import save

        ref = image.tags[0] if image.tags else str(image.manifest)
        save(store, [ref], out.dest, out.type)
        return
    from ..layer_sources import ensure_snapshots

    ensure_snapshots(store, image.layers)
    view = MergedView([str(store.snapshot_path(l.diff_id)) for l in reversed(image.layers)], "the image")
    left = _Left()
    try:
        os.makedirs(out.dest, exist_ok=True)
        with Tree(out.dest) as t:
            for name in view.listdir(""):
                _export(view, name, t.fd, name, left)
    except OSError as err:
        raise CairnError(f"-o type=local,dest={out.dest}: cannot write {err.filename or ''}: {err.strerror}") from None
    if left.devices:
        warn(f"-o type=local: {len(left.devices)} device node(s) of the image not written to {out.dest} "
             f"(/{left.devices[0]}{', ...' if len(left.devices) > 1 else ''}): devices are never made on the host")
    if left.setid:
        warn(f"-o type=local: set-user/group-ID bits dropped from {len(left.setid)} file(s) in {out.dest} "
             f"(/{left.setid[0]}{', ...' if len(left.setid) > 1 else ''})")


@dataclass
class _Left:
    """What the export left out, for the warnings."""
    devices: list[str] = field(default_factory=list)
    setid: list[str] = field(default_factory=list)


def _export(view: MergedView, rel: str, dir_fd: int, name: str, left: _Left) -> None:
    st = view.lstat(rel)
    if st is None:
        return
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        try:
            fd, _ = tree.child_dir(dir_fd, name)
        except tree.TreeError:  # a link or file standing there (an earlier export's): replaced
            tree.remove(dir_fd, name)
            fd, _ = tree.child_dir(dir_fd, name)
        try:
            for child in view.listdir(rel):
                _export(view, f"{rel}/{child}", fd, child, left)
        finally:
            os.close(fd)
    elif stat.S_ISLNK(mode):
        tree.symlink(dir_fd, name, view.readlink(rel))
    elif stat.S_ISREG(mode):
        src = view.open_file(rel)
        try:
            tree.copy_file(src, dir_fd, name)
        finally:
            os.close(src)
    elif stat.S_ISFIFO(mode):
        tree.mknod(dir_fd, name, stat.S_IFIFO | 0o600)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        left.devices.append(rel)
        return
    else:
        return  # sockets
    perms = None if stat.S_ISLNK(mode) else stat.S_IMODE(mode)
    if perms is not None and not stat.S_ISDIR(mode) and perms & (stat.S_ISUID | stat.S_ISGID):
        left.setid.append(rel)
        perms &= ~(stat.S_ISUID | stat.S_ISGID)
    tree.set_meta(dir_fd, name, owner=(st.st_uid, st.st_gid) if os.geteuid() == 0 else None, mode=perms,
                  mtime_ns=st.st_mtime_ns)
