"""Layers: deterministic tars, overlay whiteouts, and extraction that never escapes its root."""

from __future__ import annotations

import io
import os
import stat

import pytest

from builder.layers.extract import LayerError, extract_tar
from builder.layers.tarstream import TarOptions, write_tar

from .tarmaker import make_tar

AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="device nodes and trusted xattrs need root")


def tar_of(path, epoch=None) -> bytes:
    buf = io.BytesIO()
    write_tar(str(path), buf, TarOptions(epoch))
    return buf.getvalue()


def sample_tree(root):
    (root / "d" / "e").mkdir(parents=True)
    (root / "a").write_text("hello")
    os.link(root / "a", root / "hard")
    os.symlink("/etc/passwd", root / "abs-link")
    os.symlink("d/e", root / "rel-link")
    os.mkfifo(root / "fifo")
    (root / "d" / "e" / "f").write_bytes(b"x" * 70000)
    (root / "suid").write_text("s")
    os.chmod(root / "suid", 0o4755)
    os.setxattr(root / "a", "user.note", b"kept")
    if AS_ROOT:
        os.chown(root / "a", 1234, 5678)
        os.mknod(root / "d" / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))


def test_same_tree_gives_same_bytes_and_survives_a_round_trip(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    sample_tree(src)
    first = tar_of(src, 1_000_000)
    assert first == tar_of(src, 1_000_000)
    out = tmp_path / "out"
    out.mkdir()
    extract_tar(io.BytesIO(first), str(out))
    assert tar_of(out, 1_000_000) == first
    assert (out / "a").read_text() == "hello"
    assert os.stat(out / "a").st_ino == os.stat(out / "hard").st_ino
    assert os.readlink(out / "abs-link") == "/etc/passwd"
    assert stat.S_ISFIFO(os.lstat(out / "fifo").st_mode)
    assert stat.S_IMODE(os.stat(out / "suid").st_mode) == 0o4755
    assert os.getxattr(out / "a", "user.note") == b"kept"
    if AS_ROOT:
        assert (os.stat(out / "a").st_uid, os.stat(out / "a").st_gid) == (1234, 5678)
        assert os.stat(out / "d" / "null").st_rdev == os.makedev(1, 3)


def test_source_date_epoch_clamps_mtimes(tmp_path):
    (tmp_path / "f").write_text("x")
    os.utime(tmp_path / "f", (2_000_000_000, 2_000_000_000))
    import tarfile

    members = tarfile.open(fileobj=io.BytesIO(tar_of(tmp_path, 1_000))).getmembers()
    assert [m.mtime for m in members] == [1_000]
    unclamped = tarfile.open(fileobj=io.BytesIO(tar_of(tmp_path, None))).getmembers()
    assert [m.mtime for m in unclamped] == [2_000_000_000]


def test_tar_has_no_user_names_or_atimes(tmp_path):
    import tarfile

    (tmp_path / "f").write_text("x")
    (m,) = tarfile.open(fileobj=io.BytesIO(tar_of(tmp_path))).getmembers()
    assert m.uname == "" and m.gname == "" and "atime" not in m.pax_headers


@needs_root
def test_overlay_markers_become_oci_whiteouts_and_back(tmp_path):
    upper = tmp_path / "upper"
    (upper / "opaque").mkdir(parents=True)
    (upper / "opaque" / "new").write_text("n")
    os.setxattr(upper / "opaque", "trusted.overlay.opaque", b"y")
    os.mknod(upper / "gone", stat.S_IFCHR, os.makedev(0, 0))
    import tarfile

    data = tar_of(upper, 0)
    names = [m.name for m in tarfile.open(fileobj=io.BytesIO(data)).getmembers()]
    assert names == [".wh.gone", "opaque", "opaque/.wh..wh..opq", "opaque/new"]
    pax = tarfile.open(fileobj=io.BytesIO(data)).getmember("opaque").pax_headers
    assert not any("overlay" in key for key in pax)

    out = tmp_path / "out"
    out.mkdir()
    extract_tar(io.BytesIO(data), str(out))
    assert os.stat(out / "gone").st_rdev == 0 and stat.S_ISCHR(os.lstat(out / "gone").st_mode)
    assert os.getxattr(out / "opaque", "trusted.overlay.opaque") == b"y"
    assert tar_of(out, 0) == data


def test_later_entries_replace_earlier_ones(tmp_path):
    data = make_tar([("x", "dir", None), ("x/inner", "file", "1"), ("x", "file", "now a file"),
                     ("y", "file", "old"), ("y", "symlink", "x")])
    extract_tar(io.BytesIO(data), str(tmp_path))
    assert (tmp_path / "x").read_text() == "now a file"
    assert os.readlink(tmp_path / "y") == "x"


# -- escapes: each trick must be refused (or neutralised) without touching the outside --

def _outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    return root, outside


@pytest.mark.parametrize("entries", [
    [("../escaped", "file", "x")],
    [("a/../../escaped", "file", "x")],
    [("link", "symlink", "../outside"), ("link/escaped", "file", "x")],
    [("link", "symlink", "/TMP_OUTSIDE"), ("link/escaped", "file", "x")],
    [("d", "dir", None), ("d/sub", "symlink", "../../outside"), ("d/sub/escaped", "file", "x")],
    [("hl", "hardlink", "../outside/secret")],
    [("link", "symlink", "../outside"), ("hl", "hardlink", "link/secret")],
    [(".wh...", "file", "")],
    [("../.wh.secret", "file", "")],
], ids=["dotdot", "dotdot-nested", "through-relative-symlink", "through-absolute-symlink",
        "through-nested-symlink", "hardlink-out", "hardlink-through-symlink", "whiteout-dotdot",
        "whiteout-outside"])
def test_escapes_are_refused(tmp_path, entries):
    root, outside = _outside(tmp_path)
    (outside / "secret").write_text("keep me")
    entries = [(n, k, e.replace("/TMP_OUTSIDE", str(outside)) if isinstance(e, str) else e)
               for n, k, e in entries]
    with pytest.raises(LayerError):
        extract_tar(io.BytesIO(make_tar(entries)), str(root))
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (outside / "secret").read_text() == "keep me"
    assert not (tmp_path / "escaped").exists()


def test_absolute_names_land_inside_the_root(tmp_path):
    root, outside = _outside(tmp_path)
    target = str(outside / "abs-file")
    extract_tar(io.BytesIO(make_tar([(target, "file", "x"), ("/etc/passwd", "file", "p")])), str(root))
    assert not os.path.exists(target)
    assert (root / target.lstrip("/")).read_text() == "x"
    assert (root / "etc" / "passwd").read_text() == "p"


def test_absolute_symlink_is_kept_as_data_not_followed(tmp_path):
    root, outside = _outside(tmp_path)
    extract_tar(io.BytesIO(make_tar([("etc", "symlink", str(outside)), ("etc2", "symlink", "/etc")])), str(root))
    assert os.readlink(root / "etc") == str(outside)
    assert os.listdir(outside) == []


@pytest.mark.parametrize("data", [b"", b"not a tar at all" * 40,
                                  make_tar([("big", "file", "y" * 5000)])[:1500]],
                         ids=["empty", "garbage", "truncated"])
def test_corrupt_tars_are_errors(tmp_path, data):
    with pytest.raises(LayerError):
        extract_tar(io.BytesIO(data), str(tmp_path))


@needs_root
def test_device_nodes_are_kept_as_root(tmp_path):
    extract_tar(io.BytesIO(make_tar([("dev/zero", "chr", (1, 5))])), str(tmp_path))
    assert os.stat(tmp_path / "dev" / "zero").st_rdev == os.makedev(1, 5)
