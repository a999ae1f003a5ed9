"""A build context on a local filesystem that keeps sub-second file times (tmpfs; ext4 with
256-byte inodes): a file's stat vouches for it once its ctime is fs_clock.FINE_NS (a few
kernel ticks) before the walk, not the 2 s a whole-second filesystem needs (that case:
test_coarse_clock_context.py). The attacker's case: a same-size rewrite right after the
build's walk (the same tick on a kernel whose file clock is coarse) must never be answered
from what the stat cache or the memos learned of the file; the user's: an edit made a
moment (200 ms) before a build is remembered, so the rebuild after it reads nothing."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from builder.cache import fs_clock
from builder.cache.sources import StatCache
from builder.store import stat_table

from ..inproc import cairn

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs")


@pytest.fixture
def fine_dir(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], check=True, capture_output=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def _seen(path) -> tuple:
    st = os.lstat(path)
    return (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode)


def test_the_stat_cache_vouches_only_past_a_few_ticks_and_only_for_sub_second_times(fine_dir, store):
    f, whole = fine_dir / "f", fine_dir / "whole"
    f.write_text("one")
    whole.write_text("one")
    os.utime(whole, ns=(1_700_000_000 * 10**9,) * 2)  # (mtime of whole seconds: as a coarse filesystem's)
    for path, after_ns, remembered in ((f, 5_000_000, False),  # the walk a tick after the write
                                       (f, 200_000_000, True),  # 200 ms after: no rewrite can keep its ctime
                                       (whole, 200_000_000, False)):  # its times cannot tell: 2 s
        seen = _seen(path)
        cache = StatCache(store)
        cache.started = seen[3] + after_ns
        cache.hash_of(str(path), seen)
        assert bool(cache.pending) == remembered, (path.name, after_ns)
    assert fs_clock.fs_type(str(fine_dir)) in fs_clock.LOCAL


def test_a_rewrite_after_the_walk_is_copied_and_a_settled_edit_is_remembered(fine_dir, tmp_path):
    ctx, root = fine_dir / "ctx", tmp_path / "root"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY f /f\n")
    (ctx / "f").write_text("one")
    before = os.stat(ctx / "f")
    out = [tmp_path / f"out{i}" for i in range(3)]
    assert cairn("build", "-o", f"type=local,dest={out[0]}", str(ctx), root=root).returncode == 0
    (ctx / "f").write_text("two")  # same size, ms after the build's walk
    assert (out[0] / "f").read_text() == "one"
    res = cairn("build", "-o", f"type=local,dest={out[1]}", str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    assert (out[1] / "f").read_text() == "two"
    # a rewrite the walk can never have seen within a tick of the change: the row is kept
    (ctx / "f").write_text("six")
    time.sleep(0.2)
    res = cairn("build", "-o", f"type=local,dest={out[2]}", str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    assert (out[2] / "f").read_text() == "six"
    from builder.store.store import Store

    with Store(root) as store:
        row = stat_table.row_of(store, str(ctx / "f"))
    assert row is not None and row[3] == os.stat(ctx / "f").st_ctime_ns != before.st_ctime_ns
