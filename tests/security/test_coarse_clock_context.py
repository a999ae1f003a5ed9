"""A build context on a filesystem whose file times count whole seconds (ext4 made with
128-byte inodes, FAT, many network and VM shares): a file rewritten with new bytes of the same
size in the second it was first built keeps every stat field (size, mtime, ctime, inode,
mode). The stat cache must not vouch for a hash it read while the file could still change
unseen (git's "racy clean" case): the next build must copy the new bytes, never hit the old
layer."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from ..inproc import cairn

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a loop filesystem")


@pytest.fixture
def coarse_dir(tmp_path):
    image, mnt = tmp_path / "fs.img", tmp_path / "mnt"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-I", "128", "-F", str(image)], check=True, capture_output=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True, capture_output=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_a_same_second_same_size_rewrite_is_copied(coarse_dir, tmp_path):
    ctx, root = coarse_dir / "ctx", tmp_path / "root"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY f /f\n")
    for attempt in range(3):  # (the second must not turn between the build and the rewrite)
        time.sleep(1 - time.time() % 1 + 0.01)
        (ctx / "f").write_text(f"one{attempt}")
        before = os.stat(ctx / "f")
        out1, out2 = tmp_path / f"a{attempt}", tmp_path / f"b{attempt}"
        res = cairn("build", "-o", f"type=local,dest={out1}", str(ctx), root=root)
        assert res.returncode == 0, res.stderr
        (ctx / "f").write_text(f"two{attempt}")
        after = os.stat(ctx / "f")
        if (after.st_ctime_ns, after.st_mtime_ns) == (before.st_ctime_ns, before.st_mtime_ns):
            break
    else:
        pytest.fail("could not rewrite the file within one second of its first write")
    assert (out1 / "f").read_text() == f"one{attempt}"
    res = cairn("build", "-o", f"type=local,dest={out2}", str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    assert (out2 / "f").read_text() == f"two{attempt}"  # the context's bytes, not the layer of before
