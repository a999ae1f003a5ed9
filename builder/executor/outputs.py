"""Build outputs besides the store tag: `-o type=oci|docker,dest=FILE` (archives, as
`cairn save` writes them), `-o type=local,dest=DIR` (the image's merged filesystem) and
`-o type=tar,dest=FILE|-` (that filesystem as one plain tar, see fs_tar).

The local export writes into a host directory, so it writes through runtime.tree: nothing
the image holds, and no link an earlier export left in DIR, makes it write elsewhere (a
link standing where the image has a directory or file is replaced, never followed). The
image's block and character devices are never made on the host, and set-user/group-ID
bits are dropped: an image cannot plant a device node or a set-id program there."""

from __future__ import annotations

import os
import stat
import sys

from runtime import tree
from runtime.record import Record, record
from runtime.tree import Tree

from ..context.merged_view import MergedView
from ..errors import CairnError, UsageError
from ..store import images
from ..store.store import Store

_TYPES = ("local", "tar", "oci", "docker")
_ATTRS = {"local": (), "tar": (), "oci": ("name", "tar"), "docker": ("name", "tar")}


@record
class Output(Record):
    """One `-o`: docker buildx's syntax. Comma-separated key=value fields, CSV-quoted when a
    value holds a comma (`"name=a:1,a:2"`); a bare `DIR` means type=local,dest=DIR and a bare
    `-` means type=tar to stdout. dest=- (or no dest, for tar/oci/docker) writes to stdout."""

    type: str
    dest: str
    attrs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> "Output":
        import csv

        try:
            fields = next(csv.reader([text]), [])
        except csv.Error as err:
            raise UsageError(f"invalid -o {text!r}: {err}") from None
        if len(fields) == 1 and fields[0] == text and not text.startswith("type="):
            return cls("tar", "-") if text == "-" else cls("local", text)
        values: dict[str, str] = {}
        for part in fields:
            key, eq, value = part.partition("=")
            if not eq:
                raise UsageError(f"invalid -o {text!r}: {part!r} is not key=value "
                                 "(expected type=local|tar|oci|docker,dest=PATH)")
            values[key.strip().lower()] = value
        kind, dest = values.pop("type", None), values.pop("dest", "")
        if kind is None:
            raise UsageError(f"invalid -o {text!r}: type is required (local, tar, oci or docker)")
        if kind not in _TYPES:
            raise UsageError(f"invalid -o {text!r}: type must be local, tar, oci or docker, not {kind!r}")
        if kind == "local" and not dest:
            raise UsageError(f"invalid -o {text!r}: type=local needs dest=DIR")
        if kind == "local" and dest == "-":
            raise UsageError(f"invalid -o {text!r}: type=local writes a directory; use type=tar,dest=- for stdout")
        if not dest:
            dest = "-"
        unknown = sorted(set(values) - set(_ATTRS[kind]))
        if unknown:
            raise UsageError(f"invalid -o {text!r}: type={kind} has no option {unknown[0]!r}"
                             + (f" (it takes {', '.join(_ATTRS[kind])})" if _ATTRS[kind] else ""))
        if values.get("tar", "true") not in ("true", "false"):
            raise UsageError(f"invalid -o {text!r}: tar= must be true or false")
        if values.get("tar") == "false" and dest == "-":
            raise UsageError(f"invalid -o {text!r}: tar=false writes an OCI layout directory: it needs dest=DIR")
        return cls(kind, dest, tuple(sorted(values.items())))

    @property
    def to_stdout(self) -> bool:
        return self.dest == "-"

    def named(self, tags) -> "Output":
        """An oci/docker output names the image by the build's -t tags unless name= is given
        (as buildx passes them)."""
        if self.type not in ("oci", "docker") or not tags or "name" in dict(self.attrs):
            return self
        return Output(self.type, self.dest, tuple(sorted(self.attrs + (("name", ",".join(tags)),))))

    def attr(self, key: str, default: str = "") -> str:
        return dict(self.attrs).get(key, default)


def check_stdout(outputs: list[Output]) -> None:
    """At most one output may take stdout, and never a terminal (as docker refuses)."""
    to_stdout = [o for o in outputs if o.to_stdout]
    if len(to_stdout) > 1:
        raise UsageError("only one -o can write to stdout")
    if to_stdout and sys.stdout.isatty():
        raise UsageError(f"-o type={to_stdout[0].type} needs dest=FILE: refusing to write a tar to the terminal")


def _warn(text: str) -> None:
    print(f"[warning] {text}", file=sys.stderr)


def write_output(store: Store, image: images.ImageRecord, out: Output, warn=_warn) -> None:
    if out.type in ("oci", "docker"):
        from ..archive.save import save

        ref = image.tags[0] if image.tags else str(image.manifest)
        names = [n.strip() for n in out.attr("name").split(",") if n.strip()]
        save(store, [ref], out.dest, out.type, names=names, layout_dir=out.attr("tar") == "false")
        return
    from ..registry.layer_sources import ensure_snapshots

    ensure_snapshots(store, image.layers)
    view = MergedView([str(store.snapshot_path(l.diff_id)) for l in reversed(image.layers)], "the image")
    if out.type == "tar":
        _write_tar(view, out.dest)
        return
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


def _write_tar(view: MergedView, dest: str) -> None:
    from ..atomic_file import write_atomically
    from .fs_tar import write_fs_tar

    if dest == "-":
        write_fs_tar(view, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    try:
        write_atomically(dest, lambda f: write_fs_tar(view, f))
    except OSError as err:
        raise CairnError(f"-o type=tar,dest={dest}: cannot write {err.filename or dest}: {err.strerror}") from None


class _Left:
    """What the export left out, for the warnings."""

    def __init__(self):
        self.devices: list[str] = []
        self.setid: list[str] = []


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
    # rootless: the files are the user's (ids of the namespace would be subordinate ids on the host)
    from runtime import userns  # (loads ctypes: only when an output is written)

    keep_owner = os.geteuid() == 0 and userns.active() is None
    tree.set_meta(dir_fd, name, owner=(st.st_uid, st.st_gid) if keep_owner else None, mode=perms,
                  mtime_ns=st.st_mtime_ns)
