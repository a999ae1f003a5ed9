"""`cairn serve`'s image and build endpoints driven by Debian's docker CLI (DOCKER_HOST=unix://...):
pull and push against the real distribution registry on 127.0.0.1, save | load, image prune,
and the classic builder (DOCKER_BUILDKIT=0 docker build); plus raw requests from an attacker's
side (a context that escapes, a body over its bound, a client that leaves mid-build)."""

from __future__ import annotations

import os
import subprocess

import pytest

from . import registry_server
from .conftest import cairn_cli
from .registry_server import Registry
from .serve_fixtures import DOCKER, docker_runner, serving

pytestmark = [pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI (docker.io) is not installed"),
              pytest.mark.skipif(not registry_server.available(), reason="docker-registry is not installed")]


@pytest.fixture(scope="module")
def served(tmp_path_factory, busybox_tar):
    yield from serving(tmp_path_factory, busybox_tar, "serve-img")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    r = Registry(tmp_path_factory.mktemp("reg-serve"), "plain")
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def docker(served, tmp_path):
    return docker_runner(served[1], tmp_path, DOCKER_BUILDKIT="0")


def test_docker_push_then_pull_through_the_socket(docker, registry):
    name = f"{registry.host}/me/bb:1"
    assert docker("tag", "busybox:local", name)[0] == 0
    code, out, err = docker("push", name)
    assert code == 0, err
    assert f"The push refers to repository [{registry.host}/me/bb]" in out
    assert "Pushed" in out and "1: digest: sha256:" in out
    image_id = docker("images", "-q", "--no-trunc", name)[1].strip()
    code, out, err = docker("rmi", name)
    assert code == 0, err
    code, out, err = docker("pull", name)
    assert code == 0, err
    assert "1: Pulling from me/bb" in out and "Digest: sha256:" in out and out.strip().endswith(name)
    assert docker("images", "-q", "--no-trunc", name)[1].strip() == image_id
    code, out, err = docker("pull", name)
    assert code == 0 and "Image is up to date" in out, err
    # a tag the registry lacks, a name the registry refuses: the error in the stream, exit 1
    code, out, err = docker("pull", f"{registry.host}/me/bb:nosuch")
    assert code == 1 and "nosuch" in err and "Traceback" not in err, err
    code, out, err = docker("push", f"{registry.host}/me/none:1")
    assert code == 1 and "does not exist locally" in err, err


def test_docker_save_load_and_image_prune(served, docker, tmp_path):
    code, out, err = docker("tag", "busybox:local", "keep/me:1")
    assert code == 0, err
    image_id = docker("images", "-q", "--no-trunc", "keep/me:1")[1].strip()
    # docker save -o, and docker save | docker load after the name is gone
    code, _out, err = docker("save", "-o", str(tmp_path / "img.tar"), "keep/me:1")
    assert code == 0, err
    names = subprocess.run(["tar", "-tf", str(tmp_path / "img.tar")], capture_output=True, text=True, check=True).stdout.split()
    assert "manifest.json" in names and f"blobs/sha256/{image_id.removeprefix('sha256:')}" in names
    code, saved, err = docker("save", "keep/me:1", binary=True)
    assert code == 0, err
    assert saved == (tmp_path / "img.tar").read_bytes()
    assert docker("rmi", "keep/me:1")[0] == 0
    code, out, err = docker("load", stdin=saved)
    assert code == 0 and out.strip() == "Loaded image: keep/me:1", err
    assert docker("images", "-q", "--no-trunc", "keep/me:1")[1].strip() == image_id
    code, out, err = docker("load", "-i", str(tmp_path / "img.tar"))
    assert code == 0 and "Loaded image: keep/me:1" in out, err
    for args, message in ((("save", "nosuch:1"), "No such image: nosuch:1"),
                          (("load",), "not a readable tar archive")):
        code, _out, err = docker(*args, stdin=b"garbage" * 100)
        assert code == 1 and message in err, (args, err)
    # image prune -f: only the image without a name goes
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nLABEL dangling=yes\n")
    res = cairn_cli("build", "-q", str(tmp_path), root=served[0])
    assert res.returncode == 0, res.stderr
    code, out, err = docker("image", "prune", "-f")
    assert code == 0 and "deleted: sha256:" in out and "Total reclaimed space" in out, err
    code, out, err = docker("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert "keep/me:1" in out.split() and "<none>:<none>" not in out
