"""Detached containers (-d, ps, stop, rm, logs), --init, and -t/-i with a real pty."""

from __future__ import annotations

import os
import pty
import select
import sys
import time

import pytest

from .conftest import REPO, cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    store = imported_store(tmp_path_factory, busybox_tar, "lifestore", "STOPSIGNAL SIGUSR1")
    store_root = next(store)
    try:
        yield store_root
    finally:
        for line in cairn_cli("ps", "-aq", root=store_root).stdout.decode().split():
            cairn_cli("rm", "-f", line, root=store_root)
        store.close()  # removes the test bridge


def cli(root, *args):
    return cairn_cli(*args, root=root)


def test_detached_lifecycle(root):
    res = cli(root, "run", "-d", "--name", "svc", "--network", "none", "busybox:local", "sh", "-c",
              "echo started; trap 'echo got-usr1; exit 5' USR1; while true; do sleep 0.1; done")
    assert res.returncode == 0, res.stderr
    cid = res.stdout.decode().strip()
    assert len(cid) == 64
    listing = cli(root, "ps").stdout.decode().splitlines()
    assert listing[0].split()[:2] == ["CONTAINER", "ID"]
    assert any(line.startswith(cid[:12]) and "Up " in line and line.endswith("svc") for line in listing[1:])
    deadline = time.monotonic() + 10
    while b"started" not in cli(root, "logs", "svc").stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cli(root, "logs", cid[:8]).stdout == b"started\n"
    again = cli(root, "run", "-d", "--name", "svc", "busybox:local", "true")
    assert again.returncode == 125 and b'The container name "/svc" is already in use' in again.stderr
    assert cli(root, "rm", "svc").returncode == 1  # running: needs -f
    assert cli(root, "stop", "-t", "5", "svc").returncode == 0  # the image's STOPSIGNAL: SIGUSR1
    assert cli(root, "logs", "svc").stdout == b"started\ngot-usr1\n"
    line = [l for l in cli(root, "ps", "-a").stdout.decode().splitlines() if l.startswith(cid[:12])][0]
    assert "Exited (5)" in line
    assert cli(root, "ps").stdout.decode().count(cid[:12]) == 0
    assert cli(root, "rm", "svc").returncode == 0
    assert cid[:12] not in cli(root, "ps", "-a").stdout.decode()
    assert not (root / "containers" / cid).exists()


def test_detached_container_keeps_none_of_the_callers_fds(root):
    """A CI step runs `flock LOCK cairn run -d ...` or reads a pipe until EOF: the monitor
    that outlives the CLI must not hold the caller's fds, or the lock and the pipe stay
    held for as long as the container runs."""
    import fcntl
    import subprocess

    read_end, write_end = os.pipe()
    lock = open(root.parent / "ci.lock", "w")
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # as `flock LOCK cairn run -d ...` holds it
    cid = None
    try:
        cmd = [sys.executable, "-m", "builder.cli", "--root", str(root), "run", "-d", "--network", "none",
               "busybox:local", "sleep", "60"]
        res = subprocess.run(cmd, pass_fds=(write_end, lock.fileno()), capture_output=True, cwd=REPO)
        assert res.returncode == 0, res.stderr
        cid = res.stdout.decode().strip()
        os.close(write_end)
        write_end = -1
        lock.close()  # the caller is done: the lock must be free now
        ready, _, _ = select.select([read_end], [], [], 10)
        assert ready and os.read(read_end, 1) == b""  # EOF: nobody holds the write end any more
        with open(root.parent / "ci.lock", "w") as probe:
            fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the monitor kept it
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
        lock.close()
        if cid:
            cli(root, "rm", "-f", cid)


def test_stop_kills_after_timeout_and_rm_force(root):
    cid = cli(root, "run", "-d", "--network", "none", "busybox:local", "sh", "-c",
              "trap '' USR1 TERM; while true; do sleep 0.1; done").stdout.decode().strip()
    t0 = time.monotonic()
    assert cli(root, "stop", "-t", "0.5", cid).returncode == 0
    assert time.monotonic() - t0 < 8
    assert "Exited (137)" in cli(root, "ps", "-a").stdout.decode()
    cid2 = cli(root, "run", "-d", "--network", "none", "busybox:local", "sleep", "60").stdout.decode().strip()
    assert cli(root, "rm", "-f", cid2).returncode == 0
    assert cli(root, "rm", cid).returncode == 0
    assert cli(root, "ps", "-aq").stdout == b""


def test_detached_bridge_container_and_errors(root):
    res = cli(root, "run", "-d", "--rm", "busybox:local", "sh", "-c", "ip -4 -o addr show eth0; sleep 30")
    cid = res.stdout.decode().strip()
    assert res.returncode == 0, res.stderr
    assert cli(root, "stop", "-t", "1", cid).returncode == 0
    deadline = time.monotonic() + 10
    while (root / "containers" / cid).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (root / "containers" / cid).exists()  # --rm removed it
    res = cli(root, "run", "-d", "busybox:local", "nosuchcmd")
    assert res.returncode == 127 and b"executable file not found" in res.stderr
    assert cli(root, "logs", "nosuch").returncode == 1
    assert cli(root, "run", "-d", "-t", "busybox:local", "true").returncode == 125


def test_init_reaps_and_forwards(root):
    res = cli(root, "run", "--rm", "--init", "--network", "none", "busybox:local", "sh", "-c",
              "echo $$; ps -o pid,comm | awk 'NR==2{print $1}'; exit 9")
    assert res.returncode == 9
    lines = res.stdout.decode().split()
    assert lines == ["2", "1"]  # the command is not PID 1; the reaper is


def _drive_pty(args: list[str], send: bytes, timeout: float = 20.0) -> tuple[bytes, int]:
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(REPO)
        os.execv(sys.executable, [sys.executable, "-m", "builder.cli", *args])
    out = b""
    sent = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
            if not sent and b"ready" in out:
                os.write(fd, send)
                sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return out, os.waitstatus_to_exitcode(status)


def test_tty_and_interactive(root):
    os.environ["CAIRN_ROOT"] = str(root)
    try:
        out, code = _drive_pty(["run", "--rm", "-it", "--network", "none", "busybox:local", "sh", "-c",
                                "tty; echo ready; read x; echo got-$x; exit 3"], b"hello\r")
    finally:
        del os.environ["CAIRN_ROOT"]
    assert code == 3
    assert b"/dev/pts/0" in out and b"got-hello" in out


def test_kill_9_of_cairn_is_cleaned_up_by_the_next_command(root):
    import signal
    import subprocess

    from runtime.cgroups import Cgroup

    env = dict(os.environ, CAIRN_ROOT=str(root))
    before = {p.name for p in (root / "containers").iterdir()}
    proc = subprocess.Popen([sys.executable, "-m", "builder.cli", "run", "--rm", "busybox:local", "sh", "-c",
                             "echo ready; sleep 60"], cwd=REPO, env=env, stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    (cid,) = [p.name for p in (root / "containers").iterdir() if p.name not in before]
    assert Cgroup.existing(cid[:32]) is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10  # the container dies with its parent (PDEATHSIG)
    while time.monotonic() < deadline and (Cgroup.existing(cid[:32]) or Cgroup(cid[:32], 1, {})).pids():
        time.sleep(0.05)
    assert cli(root, "ps", "-a").returncode == 0  # reaps what the killed run left
    assert not (root / "containers" / cid).exists()
    assert Cgroup.existing(cid[:32]) is None
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert "cairn" + cid[:8] not in links
