"""Where a RUN step's cgroup goes with --cgroup-parent, as runc places a container's: an
absolute parent from the root of each hierarchy, a relative one below the cgroup cairn
itself is in. Unit tests over a described host (no cgroup is made)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import cgroups
from runtime.cgroups import Cgroup

HYBRID_MOUNTS = {"memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids", "cpu": "/sys/fs/cgroup/cpu",
                 "devices": "/sys/fs/cgroup/devices", "unified": "/sys/fs/cgroup/unified"}
OWN = {"memory": "/job/42", "pids": "/", "cpu": "/", "devices": "/", "unified": "/"}


@pytest.fixture
def hybrid(monkeypatch):
    monkeypatch.setattr(cgroups, "_mounts", lambda: dict(HYBRID_MOUNTS))
    monkeypatch.setattr(cgroups, "_own_paths", lambda: dict(OWN))
    monkeypatch.setattr(cgroups, "_v2_usable", lambda mounts, own: None)


def test_default_place_is_the_shared_cairn_directory_below_our_own_cgroup(hybrid):
    version, paths = Cgroup._locations("build-1")
    assert version == 1
    assert paths["memory"] == Path("/sys/fs/cgroup/memory/job/42/cairn/build-1")
    assert paths["unified"] == Path("/sys/fs/cgroup/unified/cairn/build-1")


def test_absolute_parent_starts_at_each_hierarchy_root(hybrid):
    _, paths = Cgroup._locations("build-1", "/ci/jobs")
    assert paths["memory"] == Path("/sys/fs/cgroup/memory/ci/jobs/build-1")
    assert paths["pids"] == Path("/sys/fs/cgroup/pids/ci/jobs/build-1")


def test_relative_parent_is_below_our_own_cgroup(hybrid):
    _, paths = Cgroup._locations("build-1", "ci")
    assert paths["memory"] == Path("/sys/fs/cgroup/memory/job/42/ci/build-1")
    assert paths["cpu"] == Path("/sys/fs/cgroup/cpu/ci/build-1")


@pytest.mark.parametrize("parent", ["..", "/../../etc", "a/../../b", "", "/"])
def test_parent_cannot_climb_out_of_the_hierarchy(hybrid, parent):
    with pytest.raises(ValueError):
        Cgroup._locations("build-1", parent)


def test_a_limit_that_cannot_be_set_is_an_error_not_silently_dropped(tmp_path):
    """A v2 cgroup whose parent does not delegate the memory controller has no memory.max:
    -m must then fail the step, not run it unlimited. Swap accounting stays optional."""
    from runtime.spec import Resources

    (tmp_path / "cpu.max").write_text("max 100000\n")
    cgroup = Cgroup("build-1", 2, {"unified": tmp_path})
    cgroup.apply(Resources(cpu_quota=50000, cpu_period=100000))
    assert (tmp_path / "cpu.max").read_text() == "50000 100000"
    with pytest.raises(cgroups.CgroupError, match="memory.max"):
        cgroup.apply(Resources(memory=64 << 20))
    (tmp_path / "memory.max").write_text("max\n")
    cgroup.apply(Resources(memory=64 << 20))  # no memory.swap.max here: memory alone limits
    assert (tmp_path / "memory.max").read_text() == str(64 << 20)
