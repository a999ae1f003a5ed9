"""Named contexts (`--build-context NAME=DIR|oci-layout://DIR`) are untrusted like the main
context. A directory context's links aim at the host (absolute, and climbing out): COPY
--from, RUN --mount=from and FROM of it must read the context's own files only. An OCI
layout directory lies: index.json is a link to a host file, a blob is a link to /dev/zero
or a FIFO, a blob's content is not its digest's, index.json is huge. Each must fail with a
clear error (no traceback, no hang, no image recorded), and the host is left unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ..conftest import REPO, cairn_cli, imported_store
from .sentinel import SECRET, leaked

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "hostilenamed")


def build(root: Path, ctx: Path, *args: str):
    """cairn build; a hang is a failure (a build here takes seconds)."""
    env = {**os.environ, "CAIRN_ROOT": str(root)}
    try:
        return subprocess.run([sys.executable, "-m", "builder.cli", "build", "--progress", "plain", *args, str(ctx)],
                              cwd=REPO, capture_output=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("the build hung on a file of a named context")


def directory_context(path: Path, host: Path) -> Path:
    (path / "own").mkdir(parents=True)
    (path / "own" / "file").write_text("own\n")
    os.symlink(str(host / "victim"), path / "abs")
    os.symlink("../" * 12 + str(host).lstrip("/") + "/victim", path / "climb")
    os.symlink(str(host), path / "hostdir")
    return path


@pytest.mark.parametrize("source", ["abs", "climb", "hostdir/victim"])
def test_a_directory_context_link_never_reads_the_host(root, tmp_path, host, source):
    named = directory_context(tmp_path / "named", host)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for dockerfile in (f"FROM scratch\nCOPY --from=named /{source} /out\n",
                       f"FROM busybox:local\nRUN --mount=from=named,source={source},target=/m cat /m > /out || true\n"):
        (ctx / "Dockerfile").write_text(dockerfile)
        out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}"
        res = build(root, ctx, "--build-context", f"named={named}", "-o", f"type=local,dest={out}")
        assert b"Traceback" not in res.stderr, res.stderr[-2000:]
        assert SECRET.encode() not in res.stderr
        if res.returncode == 0:
            assert leaked(out) == []
        else:
            assert b"not found" in res.stderr or b"no such" in res.stderr, res.stderr[-2000:]


def test_a_directory_context_as_a_base_keeps_its_links(root, tmp_path, host):
    """FROM a directory context: its links are the image's links, never what they point at."""
    named = directory_context(tmp_path / "named", host)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM named\n")
    out = tmp_path / "out"
    res = build(root, ctx, "--build-context", f"named={named}", "-o", f"type=local,dest={out}")
    assert res.returncode == 0, res.stderr[-2000:]
    assert (out / "own" / "file").read_text() == "own\n"
    assert os.readlink(out / "abs") == str(host / "victim")
    assert leaked(out) == []


@pytest.fixture(scope="module")
def layout_tar(root, tmp_path_factory) -> Path:
    """An OCI layout tar of a small image (FROM busybox, one more layer)."""
    tmp = tmp_path_factory.mktemp("layout-src")
    (tmp / "Dockerfile").write_text("FROM busybox:local\nCOPY f /f\n")
    (tmp / "f").write_text("from the layout\n")
    res = cairn_cli("build", "-o", f"type=oci,dest={tmp / 'img.tar'}", str(tmp), root=root)
    assert res.returncode == 0, res.stderr
    return tmp / "img.tar"


def layout(tar: Path, dest: Path) -> tuple[Path, dict, Path]:
    """Unpack: (layout dir, its index, the path of its top layer's blob)."""
    with tarfile.open(tar) as t:
        t.extractall(dest, filter="data")
    index = json.loads((dest / "index.json").read_text())
    blobs = dest / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_text())
    return dest, index, blobs / manifest["layers"][-1]["digest"].split(":")[1]


def images_in(root: Path) -> set[str]:
    return set(cairn_cli("images", "-q", root=root).stdout.decode().split())


def _index_link_to_host(lay: Path, index: dict, blob: Path, tmp_path: Path) -> None:
    outside = tmp_path / "host-index.json"
    outside.write_text(json.dumps(index))  # a valid index, on the host: it must not be read
    (lay / "index.json").unlink()
    os.symlink(str(outside), lay / "index.json")


def _blob_link_to_dev_zero(lay: Path, index: dict, blob: Path, tmp_path: Path) -> None:
    blob.unlink()
    os.symlink("/dev/zero", blob)


def _blob_fifo(lay: Path, index: dict, blob: Path, tmp_path: Path) -> None:
    blob.unlink()
    os.mkfifo(blob)


def _blob_tampered(lay: Path, index: dict, blob: Path, tmp_path: Path) -> None:
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))


def _huge_index(lay: Path, index: dict, blob: Path, tmp_path: Path) -> None:
    (lay / "index.json").write_text(json.dumps({**index, "pad": "x" * (5 << 20)}))  # valid, but past the cap


@pytest.mark.parametrize("attack", [_index_link_to_host, _blob_link_to_dev_zero, _blob_fifo, _blob_tampered,
                                    _huge_index], ids=lambda f: f.__name__.strip("_"))
def test_a_hostile_oci_layout_is_refused(root, tmp_path, layout_tar, host, attack):
    lay, index, blob = layout(layout_tar, tmp_path / "layout")
    attack(lay, index, blob, tmp_path)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM base\nRUN false\n")  # (never runs: the context fails first)
    before = images_in(root)
    res = build(root, ctx, "--build-context", f"base=oci-layout://{lay}")
    err = res.stderr.decode(errors="replace")
    assert res.returncode == 1, err[-2000:]
    assert "Traceback" not in err and "--build-context base=oci-layout://" in err, err[-2000:]
    assert images_in(root) == before  # no image recorded from it
