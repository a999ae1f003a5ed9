"""save/load: our archives read by skopeo and umoci, and bad archives refused cleanly."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile

import pytest

from builder.archive.load import ArchiveError, load
from builder.archive.rootfs_import import import_rootfs
from builder.archive.save import save
from builder.store import images
from builder.store.blobs import BlobError
from builder.store.maintenance import check
from builder.store.store import Store

from .conftest import cairn_cli
from .dockerd import docker_engine  # noqa: F401 - fixture


@pytest.fixture
def saved(tmp_path, busybox_tar):
    with Store(tmp_path / "src") as s:
        img = import_rootfs(s, str(busybox_tar), "busybox:local", ['CMD ["/bin/sh"]'])
        docker_tar, oci_tar = tmp_path / "docker.tar", tmp_path / "oci.tar"
        save(s, ["busybox:local"], str(docker_tar), "docker")
        save(s, ["busybox:local"], str(oci_tar), "oci")
        return img, docker_tar, oci_tar


def test_skopeo_reads_docker_archive(saved):
    img, docker_tar, _ = saved
    out = json.loads(subprocess.run(["skopeo", "inspect", f"docker-archive:{docker_tar}"],
                                    capture_output=True, check=True, timeout=60).stdout)
    assert out["Layers"] == [str(img.layers[0].diff_id)]
    cfg = json.loads(subprocess.run(["skopeo", "inspect", "--config", f"docker-archive:{docker_tar}"],
                                    capture_output=True, check=True, timeout=60).stdout)
    assert cfg["config"]["Cmd"] == ["/bin/sh"]


def test_skopeo_and_umoci_read_oci_layout(saved, tmp_path):
    img, _, oci_tar = saved
    out = json.loads(subprocess.run(["skopeo", "inspect", f"oci-archive:{oci_tar}"],
                                    capture_output=True, check=True, timeout=60).stdout)
    assert out["Digest"] == str(img.manifest)
    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(oci_tar) as t:
        t.extractall(layout, filter="tar")
    ref = "docker.io/library/busybox:local"
    subprocess.run(["skopeo", "copy", "-q", f"oci:{layout}:{ref}", f"dir:{tmp_path / 'dir'}"], check=True, timeout=60)
    assert (tmp_path / "dir" / img.config.hex).exists()
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:{ref}", str(tmp_path / "bundle")],
                   check=True, capture_output=True, timeout=120)
    assert (tmp_path / "bundle" / "rootfs" / "bin" / "busybox").is_file()


@pytest.mark.parametrize("which", ["docker", "oci"])
def test_load_round_trip(saved, tmp_path, which):
    img, docker_tar, oci_tar = saved
    with Store(tmp_path / f"dst-{which}") as s:
        (item,) = load(s, str(docker_tar if which == "docker" else oci_tar))
        assert [r.familiar for r in item.refs] == ["busybox:local"]
        got = images.resolve(s, "busybox:local")
        assert got.config == img.config
        if which == "oci":
            assert got.manifest == img.manifest
        assert (s.snapshot_path(img.layers[0].diff_id) / "bin" / "busybox").is_file()
        assert check(s).ok


def test_skopeo_written_archive_loads(saved, tmp_path):
    """A docker-archive written by another tool (skopeo, gzip layers in OCI form) loads."""
    _, docker_tar, _ = saved
    other = tmp_path / "other.tar"
    subprocess.run(["skopeo", "copy", "-q", f"docker-archive:{docker_tar}",
                    f"docker-archive:{other}:example.com/x:1"], check=True, timeout=60)
    with Store(tmp_path / "dst") as s:
        (item,) = load(s, str(other))
        assert [r.familiar for r in item.refs] == ["example.com/x:1"]
        assert check(s).ok


def _rewrite(src, dst, change):
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isfile() else None
            m2, data = change(m, data)
            if m2 is None:
                continue
            if data is not None:
                m2.size = len(data)
            tout.addfile(m2, io.BytesIO(data) if data is not None else None)


def _assert_unchanged(store):
    assert images.list_images(store) == []
    assert store.conn.execute("SELECT COUNT(*) FROM tags").fetchone()[0] == 0
    assert check(store).ok


@pytest.mark.parametrize("which", ["docker", "oci"])
def test_tampered_layer_is_refused(saved, tmp_path, which):
    img, docker_tar, oci_tar = saved
    layer_name = f"blobs/sha256/{img.layers[0].descriptor.digest.hex}"

    def flip(m, data):
        if m.name == layer_name:
            data = data[:600] + bytes([data[600] ^ 1]) + data[601:]
        return m, data

    bad = tmp_path / "bad.tar"
    _rewrite(docker_tar if which == "docker" else oci_tar, bad, flip)
    with Store(tmp_path / "dst") as s:
        with pytest.raises(BlobError):
            load(s, str(bad))
        _assert_unchanged(s)


def test_truncated_and_garbage_archives(saved, tmp_path):
    _, docker_tar, _ = saved
    data = docker_tar.read_bytes()
    cases = {"truncated": data[: len(data) // 2], "garbage": b"\x00not a tar" * 1000, "empty": b""}
    for name, content in cases.items():
        path = tmp_path / f"{name}.tar"
        path.write_bytes(content)
        with Store(tmp_path / f"dst-{name}") as s:
            with pytest.raises((ArchiveError, BlobError)):
                load(s, str(path))
            _assert_unchanged(s)
        res = cairn_cli("load", "-i", str(path), root=tmp_path / f"cli-{name}")
        assert res.returncode == 1 and b"Traceback" not in res.stderr and res.stderr.startswith(b"error: ")


def test_failed_save_leaves_no_file(tmp_path, busybox_tar):
    with Store(tmp_path / "s") as s:
        img = import_rootfs(s, str(busybox_tar), "busybox:local")
        shutil.rmtree(s.snapshot_path(img.layers[0].diff_id))
        dest = tmp_path / "out.tar"
        with pytest.raises(Exception):
            save(s, ["busybox:local"], str(dest))
        assert not dest.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".cairn-save")] == []
        report = check(s)
        assert not report.ok  # the missing snapshot is reported


def test_docker_loads_and_runs_our_archive(saved, docker_engine):  # noqa: F811 - the fixture
    _, docker_tar, _ = saved
    res = subprocess.run(["/usr/bin/docker", "load", "-i", str(docker_tar)], env=docker_engine,
                         capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert b"Loaded image: busybox:local" in res.stdout
    try:
        run = subprocess.run(["/usr/bin/docker", "run", "--rm", "--network", "none", "busybox:local",
                              "sh", "-c", "echo ok; id -u"], env=docker_engine, capture_output=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == [b"ok", b"0"]
    finally:
        subprocess.run(["/usr/bin/docker", "rmi", "-f", "busybox:local"], env=docker_engine, capture_output=True)
