"""Volumes against a hostile image or command line (issue #15): an image whose VOLUME path is
a symlink out of its root, and volume names that are paths. The volume is filled from the
image on first use; what it copies must be the container's view, never the host's."""

from __future__ import annotations

import os

import pytest

from ..conftest import cairn_cli, imported_store
from .sentinel import fingerprint

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "volumeescape", 'CMD ["/bin/sh"]')


def test_volume_path_symlinked_out_of_the_root_is_filled_from_inside(root, host, tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "links").mkdir(parents=True)
    (ctx / "links" / "vol").symlink_to("/../../../../../.." + str(host))  # /vol -> the host's directory
    (ctx / "Dockerfile").write_text("FROM busybox:local\nCOPY links/ /\nVOLUME /vol\n")
    res = cairn_cli("build", "-t", "hostile:vol", str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    host_files = sorted(os.listdir(host))
    for flags in (["-v", "stolen:/vol"], []):  # a named volume, the image's anonymous one
        res = cairn_cli("run", "--rm", "--network", "none", *flags, "hostile:vol", "sh", "-c",
                        "ls -a /vol; echo planted > /vol/planted", root=root)
        assert res.returncode == 0, res.stderr
        assert not set(host_files) & set(res.stdout.decode().split()), "the host's files were copied in"
    data = root / "volumes" / "stolen" / "_data"
    assert sorted(os.listdir(data)) == ["planted"]
    assert fingerprint(host) is not None and sorted(os.listdir(host)) == host_files


@pytest.mark.parametrize("flags", [
    ["--mount", "type=volume,src=../../etc,dst=/x"],
    ["--mount", "type=volume,source=/etc,target=/x"],
    ["-v", "..:/x"],
    ["-v", "../../../etc:/x:ro"],
])
def test_volume_names_are_not_paths(root, flags):
    res = cairn_cli("run", "--rm", "--network", "none", *flags, "busybox:local", "true", root=root)
    assert res.returncode == 125 and b"invalid characters for a local volume name" in res.stderr, res.stderr
    assert not (root / "etc").exists() and not (root.parent / "etc").exists()
