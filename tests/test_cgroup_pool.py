"""cairn run takes its cgroup's v1 directories from a pool made ahead (runtime.cgroup_pool):
a spare never carries an earlier container's process or limit, only the default start uses
one, and `cairn prune` removes the spares. One store, a few short containers."""

from __future__ import annotations

import os

import pytest

from runtime.cgroups import Cgroup

from .conftest import cairn_cli, imported_store

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="cgroups need root"),
              pytest.mark.skipif(Cgroup._locations("-")[0] != 1, reason="the pool is for cgroup v1 (v2 renames nothing)")]


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "pool")


def run(root, *args: str):
    return cairn_cli("run", *args, root=root)


def spares() -> dict[str, int]:
    """The memory controller's spare directories: name -> inode."""
    _version, paths = Cgroup._locations("-")
    shared = paths["memory"].parent
    try:
        return {n: os.stat(shared / n).st_ino for n in os.listdir(shared) if n.startswith(".pool-")}
    except FileNotFoundError:
        return {}


def test_a_spare_cgroup_carries_no_earlier_limit_or_process(root):
    Cgroup.drain_pool()
    res = run(root, "--rm", "--network", "none", "--memory", "32m", "--pids-limit", "7", "--cpus", "0.5",
              "busybox:local", "true")
    assert res.returncode == 0, res.stderr
    made = spares()
    assert len(made) >= 1  # refilled while that container ran
    ids = []
    try:
        for limits in (("--memory", "32m", "--pids-limit", "7", "--cpus", "0.5"), ()):
            res = run(root, "-d", "--network", "none", *limits, "busybox:local", "sleep", "60")
            assert res.returncode == 0, res.stderr
            ids.append(res.stdout.decode().strip())
        limited, plain = (Cgroup.existing(cid[:32]) for cid in ids)
        assert os.stat(plain.paths["memory"]).st_ino in made.values() or \
            os.stat(limited.paths["memory"]).st_ino in made.values()  # a spare was taken
        fresh = Cgroup.create(f"pool-test-{os.getpid()}")  # what a cgroup nobody limited reads
        try:
            for ctrl, name in (("memory", "memory.limit_in_bytes"), ("pids", "pids.max"),
                               ("cpu", "cpu.cfs_quota_us"), ("devices", "devices.list")):
                assert (plain.paths[ctrl] / name).read_text() == (fresh.paths[ctrl] / name).read_text(), name
        finally:
            fresh.destroy()
        assert (limited.paths["pids"] / "pids.max").read_text().strip() == "7"
        assert len(plain.pids()) == 1 and set(plain.pids()).isdisjoint(limited.pids())
    finally:
        for cid in ids:
            cairn_cli("rm", "-f", cid, root=root)


def test_a_start_with_its_own_devices_or_parent_takes_no_spare(root):
    assert run(root, "--rm", "--network", "none", "busybox:local", "true").returncode == 0
    before = spares()
    assert before
    for args in (("--device", "/dev/null:/dev/extra"), ("--privileged",)):
        res = run(root, "--rm", "--network", "none", *args, "busybox:local", "true")
        assert res.returncode == 0, res.stderr
    assert spares() == before


def test_prune_removes_the_spare_cgroups(root):
    assert run(root, "--rm", "--network", "none", "busybox:local", "true").returncode == 0
    assert spares()
    res = cairn_cli("prune", root=root)
    assert res.returncode == 0, res.stderr
    assert spares() == {}
