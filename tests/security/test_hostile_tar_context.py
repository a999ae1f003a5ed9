"""`cairn build - < context.tar`: the tar comes from anyone. Unpacking it must not write
outside its private directory (`..`, a link then a name through it), make a device node,
read a host file through a link named Dockerfile, or fill the disk (a small compressed bomb);
and the private directory is gone when the build ends, failed or not."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import pytest

from ..conftest import cairn_cli
from .test_outputs_local import layer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


def tar_of(*entries, fmt=tarfile.PAX_FORMAT) -> bytes:
    return layer(*entries)


def build(root, data: bytes, *args: str, env=None):
    return cairn_cli("build", "--progress", "plain", *args, "-", root=root, stdin=data, env=env)


def leftovers(root) -> list[str]:
    tmp = root / "tmp"
    return [n for n in os.listdir(tmp) if "context" in n or "stdin" in n] if tmp.exists() else []


DOCKERFILE = ("Dockerfile", "file", b"FROM scratch\nCOPY . /\n", 0o644)


def test_dotdot_and_names_through_links_write_nothing_outside(tmp_path, host):
    root = tmp_path / "store"
    for entries in ([DOCKERFILE, ("../../../../../../../" + str(host / "evil"), "file", b"pwned\n", 0o644)],
                    [DOCKERFILE, ("x", "symlink", str(host), 0o777), ("x/evil", "file", b"pwned\n", 0o644)],
                    [DOCKERFILE, ("x", "symlink", "../../../../../../../../" + str(host), 0o777),
                     ("x/evil", "file", b"pwned\n", 0o644)]):
        res = build(root, tar_of(*entries))
        err = res.stderr.decode()
        assert res.returncode == 1 and "Traceback" not in err, err
        assert "the build context from stdin" in err, err
        assert not (host / "evil").exists()
        assert leftovers(root) == []


def test_a_dockerfile_link_never_reads_a_host_file(tmp_path, host):
    root = tmp_path / "store"
    res = build(root, tar_of(("Dockerfile", "symlink", str(host / "victim"), 0o777)))
    assert res.returncode != 0 and b"host data" not in res.stderr + res.stdout, res.stderr
    assert b"Traceback" not in res.stderr
    # a link inside the context is followed inside it
    res = build(root, tar_of(("real", "file", b"FROM scratch\nCOPY real /copied\n", 0o644),
                             ("Dockerfile", "symlink", "/real", 0o777)), "-o", f"type=local,dest={tmp_path / 'o'}")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "o" / "copied").read_bytes().startswith(b"FROM scratch")
    assert leftovers(root) == []


def test_no_device_node_is_made_from_a_context_tar(tmp_path):
    root = tmp_path / "store"
    dest = tmp_path / "out"
    res = build(root, tar_of(DOCKERFILE, ("sda", "blk", (8, 0), 0o666), ("mem", "chr", (1, 1), 0o666),
                             ("pipe", "fifo", None, 0o600), (".wh.kept", "file", b"plain\n", 0o644),
                             ("f", "file", b"f\n", 0o644)), "-o", f"type=local,dest={dest}")
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(dest)) == [".wh.kept", "Dockerfile", "f"]
    assert (dest / ".wh.kept").read_bytes() == b"plain\n"


def test_a_compressed_bomb_stops_at_the_limit(tmp_path):
    root = tmp_path / "store"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 4 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
        info = tarfile.TarInfo("Dockerfile")
        info.size = 13
        tar.addfile(info, io.BytesIO(b"FROM scratch\n"))
    data = gzip.compress(buf.getvalue())
    assert len(data) < 64 << 10
    res = build(root, data, env={"CAIRN_TAR_CONTEXT_LIMIT": str(1 << 20)})
    err = res.stderr.decode()
    assert res.returncode == 1 and "larger than 1048576 bytes" in err and "Traceback" not in err, err
    assert leftovers(root) == []
    res = build(root, data, env={"CAIRN_TAR_CONTEXT_LIMIT": str(8 << 20)})
    assert res.returncode == 0, res.stderr
    assert leftovers(root) == []
