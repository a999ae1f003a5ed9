"""`cairn exec` as docker's docs write it: into a detached container, with -e, --env-file,
-u, -w, -d, -it and --privileged; docker's exit codes and messages."""

from __future__ import annotations

import os
import time

import pytest

from .conftest import cairn_cli, imported_store
from .test_run_lifecycle import _drive_pty

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    store = imported_store(tmp_path_factory, busybox_tar, "execstore")
    store_root = next(store)
    try:
        res = cairn_cli("run", "-d", "--name", "box", "--network", "none", "-e", "FOO=bar", "-w", "/srv", "--label",
                        "tier=web",
                        "busybox:local", "sh", "-c", "echo in-box > /srv/mark; exec sleep 600", root=store_root)
        assert res.returncode == 0, res.stderr
        res = cairn_cli("run", "-d", "--name", "tight", "--network", "none", "--cap-drop", "ALL", "--ulimit",
                        "nofile=100:100", "busybox:local", "sleep", "600", root=store_root)
        assert res.returncode == 0, res.stderr
        res = cairn_cli("run", "--name", "done", "--network", "none", "busybox:local", "true", root=store_root)
        assert res.returncode == 0, res.stderr
        yield store_root
    finally:
        for cid in cairn_cli("ps", "-aq", root=store_root).stdout.decode().split():
            cairn_cli("rm", "-f", cid, root=store_root)
        store.close()


CASES = [
    # (command line after `cairn exec`, exit code, what its output holds)
    (["box", "sh", "-c", "echo $FOO; pwd; cat mark"], 0, "bar\n/srv\nin-box\n"),
    (["-e", "FOO=baz", "-e", "NEW=1", "box", "sh", "-c", "echo $FOO $NEW"], 0, "baz 1\n"),
    (["--env-file", "{envfile}", "box", "sh", "-c", "echo $FROMFILE $FOO"], 0, "yes bar\n"),
    (["-u", "nobody", "box", "sh", "-c", "id -u; id -g; echo $HOME"], 0, "65534\n65534\n/nonexistent\n"),
    (["-u", "1234:5", "box", "id"], 0, "uid=1234 gid=5"),
    (["-w", "/tmp", "box", "pwd"], 0, "/tmp\n"),
    (["box", "sh", "-c", "exit 7"], 7, ""),
    (["box", "nosuchcmd"], 127, ""),
    (["box", "/etc/passwd"], 126, ""),
    (["-u", "nosuchuser", "box", "true"], 126, ""),
    # the container's cgroup (its namespace's root) and its pid namespace (PID 1 is its sleep)
    (["box", "sh", "-c", "grep -v ':/$' /proc/self/cgroup; cat /proc/1/cmdline"], 0, "sleep600"),
    # the main process's security settings: same capabilities, no_new_privs, seccomp filter
    (["box", "sh", "-c", ("grep -E 'CapEff|NoNewPrivs|Seccomp:' /proc/1/status > /tmp/a;"
                          "grep -E 'CapEff|NoNewPrivs|Seccomp:' /proc/self/status | diff /tmp/a - && cat /tmp/a")],
     0, "Seccomp:\t2"),
    # run's --cap-drop and --ulimit hold for exec too
    (["tight", "sh", "-c", "ulimit -n; grep CapEff /proc/self/status"], 0, "100\nCapEff:\t0000000000000000\n"),
    (["--privileged", "box", "grep", "CapEff", "/proc/self/status"], 0, "CapEff:\t{held}"),
]


@pytest.mark.parametrize("argv,code,out", CASES, ids=[" ".join(c[0])[:40] for c in CASES])
def test_exec_cases(root, tmp_path, argv, code, out):
    envfile = tmp_path / "env.list"
    envfile.write_text("# comment\n\nFROMFILE=yes\n")
    res = cairn_cli("exec", *[a.format(envfile=envfile) for a in argv], root=root)
    assert res.returncode == code, res.stderr
    with open("/proc/self/status") as f:  # --privileged: every capability we hold ourselves
        held = next(line.split()[1] for line in f if line.startswith("CapEff:"))
    assert out.format(held=held).replace("\0", "") in res.stdout.decode().replace("\0", ""), res.stdout


def test_exec_error_messages(root):
    res = cairn_cli("exec", "nosuch", "true", root=root)
    assert (res.returncode, res.stderr) == (1, b"Error response from daemon: No such container: nosuch\n")
    res = cairn_cli("exec", "done", "true", root=root)
    assert res.returncode == 1
    assert res.stderr.startswith(b"Error response from daemon: Container ") and res.stderr.endswith(b" is not running\n")
    res = cairn_cli("exec", "box", "nosuchcmd", root=root)
    assert b'exec: "nosuchcmd": executable file not found in $PATH' in res.stderr


def test_exec_detached_and_tty(root):
    res = cairn_cli("exec", "-d", "box", "sh", "-c", "echo detached > /tmp/d", root=root)
    assert (res.returncode, res.stdout) == (0, b"")
    deadline = time.monotonic() + 10
    while cairn_cli("exec", "box", "cat", "/tmp/d", root=root).stdout != b"detached\n":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.environ["CAIRN_ROOT"] = str(root)
    try:
        out, code = _drive_pty(["exec", "-it", "box", "sh", "-c", "tty; echo ready; read x; echo got-$x; exit 3"],
                               b"hello\r")
    finally:
        del os.environ["CAIRN_ROOT"]
    assert code == 3
    assert b"/dev/pts/" in out and b"got-hello" in out


def test_a_detached_exec_is_the_child_of_the_containers_init(root):
    """Its process's parent is the container's PID 1 (inside, PPID 1), never a process outside
    the container: the host's init, which got it when cairn exec -d exited, reaped it late on
    some machines, and until then the container's PID 1 could not finish dying (the kernel
    waits for every process of its pid namespace to be reaped): rm -f waited for it and the
    container's cgroup outlived the test suite."""
    assert cairn_cli("exec", "-d", "box", "sleep", "4321", root=root).returncode == 0
    for _ in range(100):  # (the sleep shows once env has exec'd it; not a timing assertion)
        ps = cairn_cli("exec", "box", "ps", "-o", "ppid,args", root=root).stdout.decode()
        if "sleep 4321" in ps:
            break
    assert [line.split()[0] for line in ps.splitlines() if line.endswith("sleep 4321")] == ["1"], ps


def test_inspect_containers_as_docker(root):
    import json

    docs = json.loads(cairn_cli("inspect", "box", "done", root=root).stdout)
    box, done = docs
    assert box["Name"] == "/box" and len(box["Id"]) == 64 and box["Image"].startswith("sha256:")
    assert box["State"]["Status"] == "running" and box["State"]["Running"] is True and box["State"]["Pid"] > 0
    assert box["Path"] == "sh" and box["Args"][0] == "-c"
    assert "FOO=bar" in box["Config"]["Env"] and box["Config"]["WorkingDir"] == "/srv"
    assert box["Config"]["Image"] == "busybox:local" and box["HostConfig"]["NetworkMode"] == "none"
    assert box["State"]["FinishedAt"] == "0001-01-01T00:00:00Z" and box["Created"].endswith("Z")
    assert box["Config"]["Labels"] == {"tier": "web"} and "Health" not in box["State"]
    assert done["State"]["Status"] == "exited" and done["State"]["ExitCode"] == 0 and not done["State"]["Running"]
    res = cairn_cli("inspect", "-f", "{{.State.Status}} {{.Name}} {{.State.ExitCode}}", "box", "done", root=root)
    assert res.stdout == b"running /box 0\nexited /done 0\n"
    res = cairn_cli("inspect", "--format", "{{.Id}}", "busybox:local", root=root)
    assert res.returncode == 0 and res.stdout.startswith(b"sha256:")  # images too, after containers
    res = cairn_cli("inspect", "--type", "image", "box", root=root)
    assert (res.returncode, res.stdout, res.stderr) == (1, b"[]\n", b"Error: No such image: box\n")
    res = cairn_cli("inspect", "-f", "{{.Nope}}", "box", root=root)
    assert res.returncode == 1
    assert res.stderr == b'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"\n'
