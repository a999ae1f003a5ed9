"""Build outputs besides the store tag: `-o type=oci|docker,dest=FILE` (archives, as
`cairn save` writes them) and `-o type=local,dest=DIR` (the image's merged filesystem)."""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass

from ..errors import UsageError
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


def write_output(store: Store, image: images.ImageRecord, out: Output) -> None:
    if out.type in ("oci", "docker"):
        from ..archive import save

        ref = image.tags[0] if image.tags else str(image.manifest)
        save(store, [ref], out.dest, out.type)
        return
    from ..layer_sources import ensure_snapshots

    ensure_snapshots(store, image.layers)
    view = MergedView([str(store.snapshot_path(l.diff_id)) for l in reversed(image.layers)], "the image")
    os.makedirs(out.dest, exist_ok=True)
    for name in view.listdir(""):
        _export(view, name, os.path.join(out.dest, name))


def _export(view: MergedView, rel: str, dst: str) -> None:
    st = view.lstat(rel)
    if st is None:
        return
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        os.makedirs(dst, exist_ok=True)
        for name in view.listdir(rel):
            _export(view, f"{rel}/{name}", os.path.join(dst, name))
    elif stat.S_ISLNK(mode):
        if os.path.lexists(dst):
            os.unlink(dst)
        os.symlink(os.readlink(view.host_path(rel)), dst)
    elif stat.S_ISREG(mode):
        shutil.copyfile(view.host_path(rel), dst, follow_symlinks=False)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        if os.geteuid() != 0 and not stat.S_ISFIFO(mode):
            return
        os.mknod(dst, mode, st.st_rdev)
    else:
        return
    if os.geteuid() == 0:
        os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(mode):
        os.chmod(dst, stat.S_IMODE(mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
