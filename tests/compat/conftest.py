"""Fixtures for the ported BuildKit tests: one store per module with a busybox base that has
Docker's busybox users and groups (root in wheel, daemon, nobody...) and PATH, tagged under
the names BuildKit's tests use (busybox, alpine)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from ..conftest import cairn_cli, remove_test_bridge

# /etc/passwd and /etc/group as in Docker's busybox image, which BuildKit's tests rely on.
PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
www-data:x:33:
operator:x:37:
users:x:100:
nobody:x:65534:
nogroup:x:65533:
"""
BASE_NAMES = ("busybox:local", "busybox", "alpine")


@pytest.fixture(scope="session")
def compat_base_tar(busybox_tar, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compat-rootfs") / "busybox-docker.tar"
    with tarfile.open(busybox_tar) as src, tarfile.open(out, "w") as dst:
        for member in src.getmembers():
            if member.name.lstrip("./") in ("etc/passwd", "etc/group"):
                continue
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        for name, text in (("./etc/passwd", PASSWD), ("./etc/group", GROUP)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(text), 0o644
            dst.addfile(info, io.BytesIO(text.encode()))
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory, compat_base_tar):
    """A store with the base image under every name in BASE_NAMES."""
    store = tmp_path_factory.mktemp("compat-store")
    res = cairn_cli("import", "-c", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "-c", 'CMD ["sh"]', str(compat_base_tar), BASE_NAMES[0], root=store)
    assert res.returncode == 0, res.stderr
    for name in BASE_NAMES[1:]:
        assert cairn_cli("tag", BASE_NAMES[0], name, root=store).returncode == 0
    try:
        yield store
    finally:
        remove_test_bridge()


def pytest_configure(config):
    config.addinivalue_line("markers", "container: the test runs RUN steps or containers (take the container lock)")
