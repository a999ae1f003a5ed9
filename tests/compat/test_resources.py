"""RUN resource options of `cairn build`, ported from BuildKit's dockerfile_resources_test.go:
--shm-size, --ulimit, --cgroup-parent, and the cgroup limits -m/--memory, --cpu-quota and
--cpu-period, each checked from where a user sees it (inside the RUN, or the step's cgroup
on the host while it runs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ..conftest import REPO
from .helpers import build_err, build_ok, cached_steps, container, export, needs_root, write

pytestmark = needs_root


def _hierarchy(controller: str) -> Path:
    """Where a cgroup controller is mounted on this host: the v2 tree if it has the controller,
    else its v1 hierarchy."""
    v1, v2 = None, None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = right.split()
            if fields[0] == "cgroup2" and v2 is None:
                v2 = Path(left.split()[4])
            elif fields[0] == "cgroup" and controller in fields[2].split(","):
                v1 = Path(left.split()[4])
    if v2 is not None and controller in (v2 / "cgroup.controllers").read_text().split():
        return v2
    assert v1 is not None, f"no cgroup hierarchy has the {controller} controller"
    return v1


def _all_hierarchies() -> list[Path]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] in ("cgroup", "cgroup2"):
                out.append(Path(left.split()[4]))
    return out


@pytest.fixture
def cgroup_parent():
    """A fresh top-level cgroup name; removed afterwards from every hierarchy where it was made
    (cairn makes a missing parent in each controller it uses, as docker does)."""
    name = f"cairn-test-parent-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        for hierarchy in _all_hierarchies():
            path = hierarchy / name
            if path.is_dir():
                for child in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    child.rmdir()
                path.rmdir()


@container
def test_shm_size(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox AS base\nRUN mount | grep /dev/shm > /shmsize\n"
                                               "RUN df -k /dev/shm | tail -n 1 > /df\n"
                                               "FROM scratch\nCOPY --from=base /shmsize /df /\n"})
    out = export(root, ctx, tmp_path / "out", "--shm-size", "128m")
    assert "size=131072k" in (out / "shmsize").read_text()
    assert (out / "df").read_text().split()[1] == "131072"


@container
def test_ulimit(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox AS base\nRUN ulimit -n > /ulimit; ulimit -Hn >> /ulimit;"
                                               " ulimit -c >> /ulimit\nFROM scratch\nCOPY --from=base /ulimit /\n"})
    out = export(root, ctx, tmp_path / "out", "--ulimit", "nofile=1062:2048", "--ulimit", "core=0")
    assert (out / "ulimit").read_text().split() == ["1062", "2048", "0"]


@container
def test_ulimit_the_kernel_refuses_fails_the_run_clearly(root, tmp_path):
    with open("/proc/sys/fs/nr_open") as f:
        too_many = int(f.read()) + 1
    err = build_err(root, write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN true\n"}),
                    "--ulimit", f"nofile={too_many}")
    assert "Dockerfile:2" in err and "RLIMIT_NOFILE" in err and str(too_many) in err, err[-1500:]


@container
def test_cgroup_parent(root, tmp_path, cgroup_parent):
    pids = _hierarchy("pids") / cgroup_parent
    pids.mkdir()
    (pids / "pids.max").write_text("10")
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox AS base\n"
                                               "RUN mkdir /out; (for i in $(seq 1 10); do sleep 1 & done 2>/out/error);"
                                               " cat /proc/self/cgroup > /out/cgroup\n"
                                               "FROM scratch\nCOPY --from=base /out /\n"})
    out = export(root, ctx, tmp_path / "out", "--cgroup-parent", "/" + cgroup_parent)
    error = (out / "error").read_text()
    assert "can't fork" in error or "Resource temporarily unavailable" in error, error
    assert cgroup_parent not in (out / "cgroup").read_text()  # the cgroup namespace hides where it is
    assert [p.name for p in pids.iterdir() if p.is_dir()] == []  # the step's own cgroup is gone


@container
def test_cgroups_a_killed_build_left_below_the_parent_are_reaped(root, tmp_path, cgroup_parent):
    """A build killed with -9 leaves its step's empty cgroup below --cgroup-parent; the next
    build given that parent removes it, and nothing there that cairn did not name."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    parent = _hierarchy("pids") / cgroup_parent
    orphan, foreign = parent / f"build-{gone.pid}-{'a1' * 6}", parent / f"build-{gone.pid}-someone-else"
    orphan.mkdir(parents=True)
    foreign.mkdir()
    build_ok(root, write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN echo reaped\n"}),
             "--cgroup-parent", "/" + cgroup_parent)
    assert not orphan.exists() and foreign.is_dir()


@container
def test_linux_resources(root, tmp_path, cgroup_parent):
    """-m, --cpu-quota and --cpu-period are the limits of the step's cgroup while it runs."""
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\n"
                                               "RUN trap 'exit 0' USR1; echo waiting; while :; do sleep 1; done\n"})
    proc = subprocess.Popen([sys.executable, "-m", "builder.cli", "build", "--progress", "plain", "-m", "64m",
                             "--cpu-quota", "50000", "--cpu-period", "100000", "--cgroup-parent", "/" + cgroup_parent,
                             str(ctx)], cwd=REPO, env=dict(os.environ, CAIRN_ROOT=str(root)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        memory, cpu = _hierarchy("memory") / cgroup_parent, _hierarchy("cpu") / cgroup_parent
        deadline = time.monotonic() + 120
        step = None
        while step is None and proc.poll() is None and time.monotonic() < deadline:
            found = [p for p in memory.glob("*/cgroup.procs") if p.read_text().split()] if memory.is_dir() else []
            step = found[0].parent.name if found else None
            time.sleep(0.1)
        assert step is not None, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no step cgroup"
        if memory == cpu and (memory / step / "memory.max").exists():  # cgroup v2
            limits = ((memory / step / "memory.max").read_text().strip(), (cpu / step / "cpu.max").read_text().strip())
            assert limits == ("67108864", "50000 100000")
        else:
            limits = tuple((d / step / f).read_text().strip() for d, f in (
                (memory, "memory.limit_in_bytes"), (cpu, "cpu.cfs_quota_us"), (cpu, "cpu.cfs_period_us")))
            assert limits == ("67108864", "50000", "100000")
        for pid in (memory / step / "cgroup.procs").read_text().split():
            os.kill(int(pid), signal.SIGUSR1)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr.decode()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@container
def test_memory_limit_kills_a_greedy_run(root, tmp_path):
    greedy = "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo 'surv''ived'"
    ctx = write(tmp_path / "c", {"Dockerfile": f"FROM busybox\nRUN {greedy}\n"})
    err = build_err(root, ctx, "-m", "16m")
    assert "Dockerfile:2" in err and "exit code: 137" in err and "survived" not in err, err[-1500:]


@container
def test_resource_flags_enter_the_run_cache_key(root, tmp_path):
    """As BuildKit, whose exec op carries them: the same flags hit, other ones miss (the RUN
    would see other limits), and a build without flags keeps its own record."""
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox AS base\n"
                                               "RUN ulimit -n > /n; df -k /dev/shm | tail -n 1 > /shm\n"
                                               "FROM scratch\nCOPY --from=base /n /shm /\n"})
    flags = ("--ulimit", "nofile=1062", "--shm-size", "32m")
    plain = build_ok(root, ctx, "-o", f"type=local,dest={tmp_path / 'plain'}")
    assert cached_steps(plain) == 0
    with_flags = build_ok(root, ctx, *flags, "-o", f"type=local,dest={tmp_path / 'flags'}")
    assert cached_steps(with_flags) == 0
    assert (tmp_path / "flags" / "n").read_text().strip() == "1062"
    assert (tmp_path / "flags" / "shm").read_text().split()[1] == "32768"
    assert cached_steps(build_ok(root, ctx, *flags)) == 2  # RUN and COPY
    assert cached_steps(build_ok(root, ctx)) == 2
    other = build_ok(root, ctx, "--ulimit", "nofile=1063")
    assert cached_steps(other) == 0 and "cache miss: the RUN resource flags" in other, other[-1500:]


@pytest.mark.parametrize("args,flag", [
    (("--ulimit", "nofile=abc"), "--ulimit"),
    (("--ulimit", "bogus=1"), "--ulimit"),
    (("--ulimit", "nofile=10:5"), "--ulimit"),
    (("--ulimit", "nofile"), "--ulimit"),
    (("--shm-size", "-1"), "--shm-size"),
    (("--shm-size", "lots"), "--shm-size"),
    (("--cgroup-parent", "../../etc"), "--cgroup-parent"),
    (("-m", "1k"), "--memory"),
    (("--memory-swap", "1g"), "--memory"),
    (("--cpu-quota", "10"), "--cpu-quota"),
    (("--cpu-period", "10"), "--cpu-period"),
])
def test_bad_resource_flags_are_usage_errors(root, tmp_path, args, flag):
    from .helpers import build

    res = build(root, write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN true\n"}), *args)
    err = res.stderr.decode(errors="replace")
    assert res.returncode == 2 and flag in err and "Traceback" not in err, err[-1500:]
