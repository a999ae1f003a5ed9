"""`cairn run` with real namespaces, overlayfs and cgroups (as root, like CI)."""

from __future__ import annotations

import os
import signal
import shutil
import subprocess
import sys

import pytest

from .conftest import REPO, cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    for store_root in imported_store(tmp_path_factory, busybox_tar, "runstore", 'CMD ["/bin/sh"]'):
        yield store_root  # (the test bridge is removed when imported_store ends)
    assert list((store_root / "containers").iterdir()) == [], "a --rm container was left behind"


def run(root, *args, **kw):
    return cairn_cli("run", "--rm", *args, root=root, **kw)


def out(res) -> str:
    return res.stdout.decode()


@pytest.mark.parametrize("script,code", [("exit 0", 0), ("exit 7", 7), ("exit 255", 255),
                                         ("sleep 10 & kill -9 $!; wait $!", 137)])
def test_exit_codes(root, script, code):
    assert run(root, "busybox:local", "sh", "-c", script).returncode == code


def test_command_not_found_and_not_executable(root):
    res = run(root, "busybox:local", "nosuchcommand")
    assert res.returncode == 127
    assert b'exec: "nosuchcommand": executable file not found in $PATH' in res.stderr
    res = run(root, "busybox:local", "/etc/passwd")
    assert res.returncode == 126 and b"permission denied" in res.stderr


def test_default_command_entrypoint_and_args(root):
    assert out(run(root, "-i", "busybox:local", stdin=b"echo from-default-cmd\n")).strip() == "from-default-cmd"
    assert out(run(root, "busybox:local", stdin=b"echo not-read\n")) == ""  # no -i: stdin is /dev/null
    res = run(root, "--entrypoint", "echo", "busybox:local", "a", "b")
    assert out(res) == "a b\n"


def test_writes_do_not_leak_between_containers(root):
    assert run(root, "busybox:local", "sh", "-c", "echo x > /written; test -f /written").returncode == 0
    assert run(root, "busybox:local", "test", "-e", "/written").returncode == 1


def test_hostname_and_pid_namespace(root):
    res = run(root, "-h", "inner", "busybox:local", "sh", "-c", "hostname; echo $$; ls /proc | grep -c '^[0-9]'")
    lines = out(res).split()
    assert lines[0] == "inner" and lines[1] == "1" and int(lines[2]) <= 3
    assert os.uname().nodename != "inner"


def test_network_none_has_only_lo(root):
    res = run(root, "--network", "none", "busybox:local", "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1")
    assert out(res).split() == ["lo"]


def test_network_host_sees_host_interfaces(root):
    res = run(root, "--network", "host", "busybox:local", "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1")
    with open("/proc/net/dev") as f:
        host = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
    assert sorted(out(res).split()) == host


def test_isolation_like_docker(root):
    script = ("grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; "
              "echo x > /proc/sys/kernel/hostname 2>/dev/null || echo proc-sys-ro; "
              "touch /sys/x 2>/dev/null || echo sys-ro; "
              "cat /proc/timer_list 2>/dev/null | wc -c; "
              "ls /dev | tr '\\n' ' '")
    text = out(run(root, "busybox:local", "sh", "-c", script))
    assert "CapEff:\t00000000a80425fb" in text and "CapBnd:\t00000000a80425fb" in text
    assert "NoNewPrivs:\t1" in text and "proc-sys-ro" in text and "sys-ro" in text
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx", "mqueue"):
        assert node in text.split("\n")[-1].split()


def test_user_resolution(root):
    # the outputs docker 20.10 gives for the same image
    assert out(run(root, "-u", "nobody", "busybox:local", "id")).strip() == \
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
    assert out(run(root, "-u", "1234:5", "busybox:local", "id")).strip() == "uid=1234 gid=5 groups=5"
    assert out(run(root, "busybox:local", "id")).strip() == "uid=0(root) gid=0(root) groups=0(root)"
    assert out(run(root, "-u", "nobody", "busybox:local", "sh", "-c", "grep CapEff /proc/self/status")
               ).split()[1] == "0000000000000000"
    res = run(root, "-u", "nosuchuser", "busybox:local", "id")
    assert res.returncode != 0 and b"unable to find user nosuchuser" in res.stderr


def test_env_and_workdir(root):
    res = run(root, "-e", "A=1", "-e", "B=two words", "-w", "/made/here", "-h", "box", "busybox:local",
              "sh", "-c", 'echo "$A|$B|$PATH|$HOME|$HOSTNAME"; pwd; cat /etc/hostname')
    assert out(res).splitlines() == [
        "1|two words|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/root|box", "/made/here", "box"]


def test_bind_volumes(root, tmp_path):
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (ro / "file").write_text("read me")
    res = run(root, "-v", f"{rw}:/data", "-v", f"{ro}:/config:ro", "busybox:local", "sh", "-c",
              "echo written > /data/out; cat /config/file; echo; touch /config/new 2>/dev/null || echo ro-ok")
    assert out(res).split("\n")[:2] == ["read me", "ro-ok"]
    assert (rw / "out").read_text() == "written\n" and not (ro / "new").exists()


def test_oom_kill_is_137(root):
    res = run(root, "--memory", "16m", "busybox:local", "sh", "-c",
              "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo survived")
    assert res.returncode == 137 and b"survived" not in res.stdout


def test_pids_limit(root):
    res = run(root, "--pids-limit", "4", "busybox:local", "sh", "-c",
              "for i in 1 2 3 4 5 6; do sleep 2 & done; echo started")
    assert b"can't fork" in res.stderr or b"Resource temporarily unavailable" in res.stderr


def test_cpus_limit_is_set(root):
    res = run(root, "--cpus", "0.5", "busybox:local", "true")
    assert res.returncode == 0


def test_sigterm_reaches_the_container(root):
    env = dict(os.environ, CAIRN_ROOT=str(root))
    proc = subprocess.Popen([sys.executable, "-m", "builder.cli", "run", "--rm", "busybox:local", "sh", "-c",
                             "trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 0.1; done"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3 and b"got-term" in stdout


@pytest.mark.parametrize("args,message", [
    (["-v", "./relative:/x"], b"If you intended to pass a host directory, use absolute path"),  # relative: a volume
    (["-v", "/nonexistent-src:/x"], b"does not exist"),
    (["-v", "/tmp:/x:rx"], b"mode must be ro or rw"),
    (["--memory", "lots"], b"invalid --memory"),
    (["--network", "bogus"], b"invalid --network"),
])
def test_bad_flags_are_clear_errors(root, args, message):
    res = run(root, *args, "busybox:local", "true")
    assert res.returncode == 125 and message in res.stderr and b"Traceback" not in res.stderr  # docker run's


def test_a_container_whose_setup_fails_leaves_nothing_behind(root):
    """Its root is built while cairn puts it in its cgroup and wires its veth: a setup that
    fails meanwhile is reported as itself (not as a cgroup write's "no such process"), and no
    cgroup, link or mount of it is left."""
    from .conftest import TEST_BRIDGE
    from .host_state import snapshot

    before = snapshot()
    res = run(root, "--mount", "type=bind,src=/etc/hostname,dst=/bin", "busybox:local", "true")  # (bridge)
    assert res.returncode == 125 and b"container setup failed" in res.stderr and b"Traceback" not in res.stderr
    left = snapshot().new_since(before)
    left["links"] = [name for name in left["links"] if name != TEST_BRIDGE]  # (made by the first bridged run)
    left["nat_rules"] = [rule for rule in left["nat_rules"] if TEST_BRIDGE not in rule]
    assert left == {"mounts": [], "cgroups": [], "netns": [], "links": [], "nat_rules": []}


def test_unknown_image(root):
    res = run(root, "nosuch:image", "true")
    assert res.returncode == 125 and b"no such image: nosuch:image" in res.stderr


def test_a_user_without_root_runs_rootless(root):
    """Not refused: an ordinary user runs rootless (tests/test_rootless.py); nobody has no
    subordinate range, so only its own id is mapped, and cairn says so."""
    import tempfile

    store = tempfile.mkdtemp(prefix="cairn-nobody-")
    os.chown(store, 65534, 65534)
    try:
        res = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", sys.executable,
                              "-m", "builder.cli", "run", "busybox:local", "true"], cwd=REPO, capture_output=True,
                             env=dict(os.environ, CAIRN_ROOT=store), timeout=60)
    finally:
        shutil.rmtree(store)
    assert b"warning: nobody has no subordinate range" in res.stderr, res.stderr
    assert res.returncode == 125 and b"no such image: busybox:local" in res.stderr, res.stderr  # its own, empty store
