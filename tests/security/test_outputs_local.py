"""`-o type=local,dest=DIR` writes an image's filesystem into a host directory: the image
(hostile, as any pulled image may be) must not make it write outside DIR, leave a device node
or a set-id program on the host. The images here are loaded from crafted layer tars."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from ..conftest import cairn_cli
from .image_archive import docker_archive

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


def layer(*entries) -> bytes:
    """entries: (name, kind, extra, mode) with kind file|dir|symlink|chr|blk|fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, extra, mode in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = 1_000_000, mode
            data = None
            if kind == "file":
                data = extra
                info.size = len(data)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, extra
            elif kind in ("chr", "blk"):
                info.type = tarfile.CHRTYPE if kind == "chr" else tarfile.BLKTYPE
                info.devmajor, info.devminor = extra
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def load(root: Path, tmp_path: Path, ref: str, *layers: bytes):
    res = cairn_cli("load", "-i", str(docker_archive(tmp_path / f"{ref.replace(':', '_')}.tar", ref, list(layers))),
                    root=root)
    return res


def export(root: Path, tmp_path: Path, ref: str, dest: Path):
    ctx = tmp_path / f"ctx-{ref.replace(':', '_')}"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(f"FROM {ref}\nENV EXPORTED=1\n")
    return cairn_cli("build", "--progress", "plain", "-o", f"type=local,dest={dest}", str(ctx), root=root)


def test_no_device_node_or_setid_program_reaches_the_host(tmp_path):
    root = tmp_path / "store"
    res = load(root, tmp_path, "devs:1", layer(("dev", "dir", None, 0o755),
                                               ("dev/mem", "chr", (1, 1), 0o666),
                                               ("dev/sda", "blk", (8, 0), 0o666),
                                               ("bin", "dir", None, 0o755),
                                               ("bin/su", "file", b"#!/bin/sh\n", 0o4755),
                                               ("bin/wall", "file", b"#!/bin/sh\n", 0o2755),
                                               ("run", "fifo", None, 0o600)))
    assert res.returncode == 0, res.stderr
    dest = tmp_path / "out"
    res = export(root, tmp_path, "devs:1", dest)
    assert res.returncode == 0, res.stderr
    for dirpath, dirnames, filenames in os.walk(dest):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            assert not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)), f"device node {name} on the host"
            assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID), f"set-id file {name} on the host"
    assert (dest / "bin" / "su").read_bytes() == b"#!/bin/sh\n"
    assert stat.S_IMODE((dest / "bin" / "su").stat().st_mode) == 0o755
    assert stat.S_ISFIFO((dest / "run").lstat().st_mode)
    assert b"device node(s)" in res.stderr and b"/dev/" in res.stderr, res.stderr


def test_links_an_earlier_export_left_are_replaced_not_followed(tmp_path, host):
    root = tmp_path / "store"
    assert load(root, tmp_path, "first:1", layer(("x", "symlink", str(host / "dir"), 0o777),
                                                 ("victim", "symlink", str(host / "victim"), 0o777),
                                                 ("up", "symlink", "../../host", 0o777))).returncode == 0
    assert load(root, tmp_path, "second:1", layer(("x", "dir", None, 0o755),
                                                  ("x/evil", "file", b"pwned\n", 0o644),
                                                  ("victim", "file", b"pwned\n", 0o600),
                                                  ("up", "dir", None, 0o755),
                                                  ("up/victim", "file", b"pwned\n", 0o644))).returncode == 0
    dest = tmp_path / "deep" / "out"
    res = export(root, tmp_path, "first:1", dest)
    assert res.returncode == 0, res.stderr
    assert os.readlink(dest / "x") == str(host / "dir")
    res = export(root, tmp_path, "second:1", dest)
    assert res.returncode == 0, res.stderr
    assert (dest / "x" / "evil").read_bytes() == b"pwned\n" and not (dest / "x").is_symlink()
    assert (dest / "victim").read_bytes() == b"pwned\n" and not (dest / "victim").is_symlink()
    assert (dest / "up" / "victim").read_bytes() == b"pwned\n"


def test_a_link_then_an_entry_through_it_in_one_image(tmp_path, host):
    """Layer 1: x -> the host directory; layer 2: x/evil. The image cannot reach through x."""
    root = tmp_path / "store"
    res = load(root, tmp_path, "through:1", layer(("x", "symlink", str(host), 0o777)),
               layer(("x", "dir", None, 0o755), ("x/evil", "file", b"pwned\n", 0o644)))
    assert res.returncode == 0, res.stderr
    res = load(root, tmp_path, "onelayer:1", layer(("y", "symlink", str(host), 0o777),
                                                   ("y/evil", "file", b"pwned\n", 0o644)))
    assert res.returncode != 0 and b"Traceback" not in res.stderr, res.stderr
    dest = tmp_path / "out"
    res = export(root, tmp_path, "through:1", dest)
    assert res.returncode == 0, res.stderr
    assert (dest / "x" / "evil").read_bytes() == b"pwned\n"
    assert not (host / "evil").exists()


def test_a_lower_layer_link_never_lists_a_host_directory(tmp_path, host):
    """Layer 1: a -> the host directory; layer 2: a/dir/ (a directory over the link). Listing
    a/dir for COPY --from must not read the host's dir/ (its names leaked, then a crash)."""
    root = tmp_path / "store"
    res = load(root, tmp_path, "over:1", layer(("a", "symlink", str(host), 0o777)),
               layer(("a", "dir", None, 0o755), ("a/dir", "dir", None, 0o755), ("a/dir/mine", "file", b"m\n", 0o644)))
    assert res.returncode == 0, res.stderr
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM over:1 AS i\nFROM scratch\nCOPY --from=i /a /dst/\n")
    dest = tmp_path / "out"
    res = cairn_cli("build", "--progress", "plain", "-o", f"type=local,dest={dest}", str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(dest / "dst" / "dir")) == ["mine"]
