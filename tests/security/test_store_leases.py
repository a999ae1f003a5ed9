"""Issue #13, finding 11: `rmi` and `prune` keep what running containers and builds in
progress use (their snapshots and temp directories), and let it go once they are gone.

Synchronised through files the container or RUN step writes into a bind or cache mount,
never by sleeping in the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import REPO, cairn_cli, imported_store

WAIT = 120  # seconds: only a bound for a broken run, never a measurement


@pytest.fixture
def root(tmp_path_factory, busybox_tar):
    store = imported_store(tmp_path_factory, busybox_tar, "leased")
    store_root = next(store)
    try:
        yield store_root
    finally:
        for cid in cairn_cli("ps", "-aq", root=store_root).stdout.decode().split():
            cairn_cli("rm", "-f", cid, root=store_root)
        store.close()


def ok(res) -> str:
    assert res.returncode == 0, res.stderr.decode() + res.stdout.decode()
    return res.stdout.decode()


def wait_for(path_or_glob, base: Path | None = None) -> Path:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = sorted(base.rglob(path_or_glob)) if base is not None else \
            ([path_or_glob] if Path(path_or_glob).exists() else [])
        if found:
            return Path(found[0])
        time.sleep(0.05)
    raise AssertionError(f"{path_or_glob} never appeared")


def snapshots(root: Path) -> set[str]:
    return {p.name for p in (root / "snapshots").iterdir()}


def test_prune_keeps_the_snapshot_of_a_running_container(root, tmp_path):
    sync = tmp_path / "sync"
    sync.mkdir()
    before = snapshots(root)
    cid = ok(cairn_cli("run", "-d", "--network", "none", "-v", f"{sync}:/sync", "busybox:local", "sh", "-c",
                       "touch /sync/started; while [ ! -e /sync/go ]; do sleep 0.1; done; "
                       "/bin/busybox echo alive > /sync/result", root=root)).strip()
    wait_for(sync / "started")
    ok(cairn_cli("rmi", "busybox:local", root=root))
    ok(cairn_cli("prune", root=root))
    assert snapshots(root) == before  # the container's rootfs is still there

    (sync / "go").touch()
    assert wait_for(sync / "result").read_text() == "alive\n"
    ok(cairn_cli("stop", cid, root=root))
    ok(cairn_cli("rm", cid, root=root))
    ok(cairn_cli("prune", root=root))
    assert snapshots(root) == set()  # the lease ended with the container


def test_prune_and_rmi_during_a_run_step_leave_the_build_succeeding(root, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox:local\n"
        "RUN --mount=type=cache,id=lease-sync,target=/sync "
        "touch /sync/started; while [ ! -e /sync/go ]; do sleep 0.1; done; echo built > /result\n")
    out = tmp_path / "out"
    env = {"CAIRN_ROOT": str(root)}
    build = subprocess.Popen([sys.executable, "-m", "builder.cli", "build", "--progress", "plain",
                              "-o", f"type=local,dest={out}", str(ctx)], cwd=REPO,
                             env={**os.environ, **env},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        started = wait_for("started", root / "cache-mounts")
        ok(cairn_cli("rmi", "busybox:local", root=root))
        ok(cairn_cli("prune", root=root))
        (started.parent / "go").touch()
        stdout, stderr = build.communicate(timeout=WAIT)
    finally:
        if build.poll() is None:
            build.kill()
            build.communicate()
    assert build.returncode == 0, stderr.decode()
    assert (out / "result").read_text() == "built\n"
    assert (out / "bin" / "busybox").exists()
