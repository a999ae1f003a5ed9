"""`-o type=tar` writes an image's filesystem (hostile, as any pulled image may be) as one tar:
the image's links are entries, never followed while the tar is written, so no host file gets
into the tar; and every entry name stays relative, so the tar unpacks where its user means."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from ..conftest import cairn_cli
from .test_outputs_local import layer, load

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


def export_tar(root, tmp_path, ref: str) -> dict[str, tarfile.TarInfo]:
    ctx = tmp_path / f"ctx-{ref.replace(':', '_')}"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(f"FROM {ref}\nENV EXPORTED=1\n")
    res = cairn_cli("build", "--progress", "plain", "-o", "-", str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    with tarfile.open(fileobj=io.BytesIO(res.stdout)) as tar:
        return {m.name: m for m in tar}


def test_links_to_the_host_stay_links(tmp_path, host):
    root = tmp_path / "store"
    res = load(root, tmp_path, "links:1", layer(("x", "symlink", str(host), 0o777)),
               layer(("y", "symlink", str(host / "victim"), 0o777), ("up", "symlink", "../../../", 0o777)))
    assert res.returncode == 0, res.stderr
    entries = export_tar(root, tmp_path, "links:1")
    assert entries["x"].issym() and entries["x"].linkname == str(host)
    assert entries["y"].issym() and entries["y"].size == 0
    assert not any(n.startswith(("x/", "up/")) for n in entries), sorted(entries)


def test_a_link_in_a_lower_layer_under_a_directory_is_not_walked(tmp_path, host):
    root = tmp_path / "store"
    res = load(root, tmp_path, "over:1", layer(("a", "symlink", str(host), 0o777)),
               layer(("a", "dir", None, 0o755), ("a/dir", "dir", None, 0o755), ("a/dir/mine", "file", b"m\n", 0o644)))
    assert res.returncode == 0, res.stderr
    entries = export_tar(root, tmp_path, "over:1")
    assert sorted(n for n in entries if n.startswith("a/")) == ["a/dir", "a/dir/mine"]
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in entries)


def test_devices_are_entries_not_reads(tmp_path):
    """A device node of the image is a tar entry (its numbers), never opened and read."""
    root = tmp_path / "store"
    res = load(root, tmp_path, "devs:1", layer(("dev", "dir", None, 0o755), ("dev/zero", "chr", (1, 5), 0o666),
                                               ("run", "fifo", None, 0o600)))
    assert res.returncode == 0, res.stderr
    entries = export_tar(root, tmp_path, "devs:1")
    assert entries["dev/zero"].ischr() and (entries["dev/zero"].devmajor, entries["dev/zero"].devminor) == (1, 5)
    assert entries["dev/zero"].size == 0 and entries["run"].isfifo()
