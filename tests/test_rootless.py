"""Rootless mode (issue 19), from the side of a CI job that runs as an ordinary user.

The module makes that user (useradd, with a subordinate id range) and removes it and
everything it owns at the end, also when a test fails. Its cairn runs with its own store
(~/.local/share/cairn, the default) from an interpreter the user may execute. What a root
build checks holds here too: owners inside layers, digests equal to root's, the cache, and
isolation (the store and the user's home out of a container's reach).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import cairn_cli
from .rootless_user import rootless_user

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("newuidmap"),
                                reason="making a user needs root; rootless mode needs newuidmap (uidmap)")

EPOCH = {"SOURCE_DATE_EPOCH": "0"}

# a user with RUN-made users and files, COPY --chown, and a step run as that user
DOCKERFILE = """\
FROM busybox:local
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group \\
 && mkdir -p /data /home/app && chown app:app /data /home/app && echo hi > /data/f && chown 1000:1000 /data/f
COPY --chown=1000:1000 hello.txt /home/app/
USER app
RUN id -u > /home/app/uid && touch /home/app/mine
USER root
RUN rm -rf /data && mkdir /data && echo new > /data/g && rm /bin/vi
"""


@pytest.fixture(scope="module")
def user(busybox_tar):
    with rootless_user() as u:
        if u is None:
            pytest.skip("no Python interpreter that a new user may run sees cairn's packages")
        shutil.copy(busybox_tar, u.home / "busybox.tar")
        u.give(u.home / "busybox.tar")
        res = u.cairn("import", "-c", 'CMD ["/bin/sh"]', str(u.home / "busybox.tar"), "busybox:local")
        assert res.returncode == 0, res.stderr
        yield u


@pytest.fixture(scope="module")
def context(user):
    ctx = user.home / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "hello.txt").write_text("hello\n")
    return user.give(ctx)


def _layers(inspect: str) -> list[str]:
    return json.loads(inspect)[0]["RootFS"]["Layers"]


@pytest.fixture(scope="module")
def built(user, context):
    res = user.cairn("build", "--progress", "plain", "-t", "app:rootless", str(context), env=EPOCH)
    assert res.returncode == 0, res.stderr
    return res


def test_a_user_builds_with_run_made_users_and_copy_chown(user, built):
    res = user.cairn("run", "--rm", "--network", "none", "app:rootless", "sh", "-c",
                     "id -u; cat /home/app/uid; ls -ln /home/app/hello.txt /home/app/mine /data; "
                     "awk 'NR>1' /proc/self/uid_map | head -1")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split("\n")
    assert lines[:2] == ["0", "1000"], res.stdout  # USER app ran as app in the build
    assert " f\n" not in res.stdout and res.stdout.count(" g\n") == 1  # /data was replaced (an opaque dir)
    for path in ("/home/app/hello.txt", "/home/app/mine"):
        owners = next(line for line in lines if line.endswith(path)).split()[2:4]
        assert owners == ["1000", "1000"], res.stdout
    assert res.stdout.split("\n")[-2].split() == ["1", str(user.subids), "65536"], res.stdout  # the rest: the subordinate range


def test_the_same_layers_as_a_root_build(user, built, context, tmp_path, busybox_tar):
    root = tmp_path / "rootstore"
    assert cairn_cli("import", "-c", 'CMD ["/bin/sh"]', str(busybox_tar), "busybox:local", root=root).returncode == 0
    res = cairn_cli("build", "--progress", "plain", "-t", "app:root", str(context), root=root, env=EPOCH)
    assert res.returncode == 0, res.stderr
    as_root = _layers(cairn_cli("inspect", "app:root", root=root).stdout)
    rootless = user.cairn("inspect", "app:rootless")
    assert rootless.returncode == 0, rootless.stderr
    assert _layers(rootless.stdout) == as_root


def test_a_rebuild_is_all_cached(user, built, context):
    res = user.cairn("build", "--progress", "plain", "-t", "app:rootless", str(context), env=EPOCH)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("CACHED") == 4, res.stderr  # RUN, COPY, RUN, RUN


def test_a_local_output_is_the_users_own(user, built, context):
    """Files owned by app (1000) inside would be a subordinate id outside: the user could not remove them."""
    out = user.home / "out"
    res = user.cairn("build", "-o", f"type=local,dest={out}", str(context), env=EPOCH)
    assert res.returncode == 0, res.stderr
    assert (out / "home" / "app" / "hello.txt").read_text() == "hello\n"
    assert {p.lstat().st_uid for p in out.rglob("*")} == {user.uid}
    assert subprocess.run(["runuser", "-u", user.name, "--", "rm", "-rf", str(out)], check=False).returncode == 0


def test_networks_default_none_and_host(user, built):
    script = "cat /sys/class/net/*/address >/dev/null; ls /sys/class/net | tr '\\n' ' '; grep nameserver /etc/resolv.conf"
    out = {}
    for net in ("default", "none", "host"):
        args = ["--network", net] if net != "default" else []
        res = user.cairn("run", "--rm", *args, "busybox:local", "sh", "-c", script)
        assert res.returncode == 0, (net, res.stderr)
        out[net] = res.stdout
    assert "tap0" in out["default"] and "10.0.2.3" in out["default"], out  # slirp4netns
    assert out["none"].split("nameserver")[0].split() == ["lo"], out
    host_links = set(os.listdir("/sys/class/net")) - {"lo"}
    assert host_links & set(out["host"].split()), out  # the host's own links


@pytest.fixture
def host_loopback_service():
    """A service on the host's 127.0.0.1 that a container must not reach."""
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HOST-LOOPBACK\n")

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def test_the_user_mode_network_does_not_reach_the_hosts_loopback(user, built, host_loopback_service):
    port = host_loopback_service
    res = user.cairn("run", "--rm", "busybox:local", "sh", "-c",
                     f"for a in 10.0.2.2 10.0.2.3 127.0.0.1; do nc -w 2 $a {port} </dev/null; done; echo done")
    assert res.returncode == 0 and res.stdout.endswith("done\n"), res.stderr
    assert "HOST-LOOPBACK" not in res.stdout
    with socket.create_connection(("127.0.0.1", port)) as s:  # (the service itself answers)
        assert s.recv(64) == b"HOST-LOOPBACK\n"


def test_a_published_port_reaches_the_container(user, built):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = user.cairn("run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox:local", "sh", "-c",
                     "mkdir /w && echo served-rootless > /w/index.html && exec httpd -f -p 80 -h /w")
    assert res.returncode == 0, res.stderr
    cid = res.stdout.strip()
    try:
        answer = ""
        for _ in range(100):  # until httpd listens (bounded)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    answer = b"".join(iter(lambda: s.recv(4096), b"")).decode()
            except OSError:
                pass
            if answer:
                break
            time.sleep(0.05)
        assert answer.endswith("\r\n\r\nserved-rootless\n"), answer
    finally:
        assert user.cairn("rm", "-f", cid).returncode == 0


def test_stop_reaches_a_detached_container_that_runs_as_another_user(user, built):
    """Each cairn process has a user namespace of its own: `stop` goes through the monitor."""
    ids = []
    try:
        for script in ("trap 'exit 3' TERM; while :; do sleep 0.1; done", "exec sleep 1000"):
            res = user.cairn("run", "-d", "--network", "none", "-u", "1000", "busybox:local", "sh", "-c", script)
            assert res.returncode == 0, res.stderr
            ids.append(res.stdout.strip())
        for cid in ids:
            res = user.cairn("stop", "-t", "1", cid)
            assert res.returncode == 0, res.stderr
        rows = user.cairn("ps", "-a").stdout
        assert "Exited (3)" in rows and "Exited (137)" in rows, rows  # the trap ran; sleep was killed
    finally:
        assert user.cairn("rm", "-f", *ids).returncode == 0


def test_limits_are_refused_with_the_reason_and_runs_without_them_work(user, built, context):
    if "delegated" in user.cairn("info").stdout:
        pytest.skip("this host delegates a cgroup v2 subtree to users")
    for args in (["run", "--rm", "--memory", "64m", "busybox:local", "true"],
                 ["run", "--rm", "--pids-limit", "10", "busybox:local", "true"],
                 ["build", "--no-cache", "-m", "64m", str(context)],
                 ["build", "--no-cache", "--cgroup-parent", "/ci", str(context)]):
        res = user.cairn(*args)
        assert res.returncode == 2 and "rootless mode cannot set resource limits" in res.stderr, (args, res.stderr)
    assert user.cairn("run", "--rm", "busybox:local", "true").returncode == 0


def test_info_says_rootless_with_the_mapping_and_store(user):
    res = user.cairn("info")
    assert res.returncode == 0, res.stderr
    info = dict(line.split(": ", 1) for line in res.stdout.splitlines())
    assert info["Mode"] == "rootless"
    assert info["ID Mapping"].startswith(f"uid 0->{user.uid}, 1-65536->"), info
    assert info["Store"] == str(user.home / ".local" / "share" / "cairn")
    assert info["Network"].startswith("slirp4netns") and info["Cgroup Version"] in ("1", "2")
    assert user.cairn("info", "-f", "{{.Mode}} {{.Rootless}}").stdout == "rootless true\n"
    as_root = cairn_cli("info", "--format", "json")
    assert json.loads(as_root.stdout)["Mode"] == "root"


def test_a_user_without_a_range_gets_one_id_and_a_warning(user):
    """Root inside works with the user's own id alone; another owner cannot be made."""
    ranges = f"{user.subids}-{user.subids + 65535}"
    subprocess.run(["usermod", "--del-subuids", ranges, "--del-subgids", ranges, user.name], check=True)
    try:
        res = user.cairn("run", "--rm", "--network", "none", "busybox:local", "sh", "-c",
                         "cat /proc/self/uid_map; touch /x && chown 5:5 /x && echo CHOWNED")
    finally:
        subprocess.run(["usermod", "--add-subuids", ranges, "--add-subgids", ranges, user.name], check=True)
    assert "warning:" in res.stderr and "no subordinate range" in res.stderr, res.stderr
    assert res.stdout.split()[:3] == ["0", str(user.uid), "1"], res.stdout
    assert "CHOWNED" not in res.stdout


# Isolation: what a container can reach of the user's own files

ATTACKS = r"""
for p in /x /dev/x /tmp/x; do mknod $p c 10 183 2>/dev/null && head -c1 $p >/dev/null 2>&1 && echo BREACH:read-device-$p; done
unshare -Urm sh -c 'mount -t tmpfs none /mnt && echo BREACH:mount' 2>/dev/null
find / -xdev -name 'cairn.db*' 2>/dev/null | sed 's/^/BREACH:store-/'
find / -name user-sentinel 2>/dev/null | sed 's/^/BREACH:home-/'
cat /proc/kcore 2>/dev/null | head -c1 | wc -c | grep -q 1 && echo BREACH:kcore
echo 1 > /proc/sys/kernel/core_uses_pid 2>/dev/null && echo BREACH:proc-sys
ls /proc/1/root/home 2>/dev/null | grep -q cairnrl && echo BREACH:proc-root
grep -q Seccomp:.2 /proc/self/status || echo BREACH:no-seccomp
echo done
"""


def test_a_container_reaches_neither_the_store_nor_the_users_home(user, built):
    (user.home / "user-sentinel").write_text("private")
    user.give(user.home / "user-sentinel")
    outputs = []
    for net in ("none", "host"):
        res = user.cairn("run", "--rm", "--network", net, "busybox:local", "sh", "-c", ATTACKS)
        assert res.returncode == 0 and res.stdout.endswith("done\n"), res.stderr
        outputs.append(res.stdout)
    ctx = user.home / "attack"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:local\nRUN " + "; ".join(
        line for line in ATTACKS.strip().splitlines()) + "\n")
    user.give(ctx)
    res = user.cairn("build", "--progress", "plain", "--no-cache", str(ctx))
    assert res.returncode == 0, res.stderr
    outputs.append("\n".join(line for line in res.stderr.splitlines() if line.startswith("#") and "BREACH:" in line
                             and "echo BREACH" not in line and "sed " not in line))
    assert all("BREACH" not in out for out in outputs), outputs


def _archive_reachable() -> str | None:
    try:
        socket.create_connection(("deb.debian.org", 80), timeout=3).close()
    except OSError as err:
        return f"Debian's archive is unreachable ({err})"
    return None


@pytest.mark.registries
def test_a_run_step_installs_from_debians_archive(user):
    why = _archive_reachable()
    if why:
        pytest.skip(why)
    from .corpus.bases import cache_dir

    cached = sorted(cache_dir().glob("debian_bookworm-*.tar"))
    if not cached:
        pytest.skip("no cached Debian base (python -m tests.corpus.bases makes it)")
    tar = user.home / "debian.tar"
    shutil.copy(cached[0], tar)
    user.give(tar)
    assert user.cairn("import", str(tar), "debian:rootless").returncode == 0
    tar.unlink()
    ctx = user.home / "apt"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM debian:rootless\n"
        "RUN adduser --disabled-password --gecos '' app && rm -f /etc/apt/sources.list.d/* \\\n"
        " && echo 'deb http://deb.debian.org/debian bookworm main' > /etc/apt/sources.list \\\n"
        " && apt-get update -qq && apt-get install -y -qq --no-install-recommends hello >/dev/null \\\n"
        " && su app -c hello && stat -c %U:%G /home/app\n")
    user.give(ctx)
    res = user.cairn("build", "--progress", "plain", "-t", "apt:rootless", str(ctx))
    assert res.returncode == 0, res.stderr
    assert "Hello, world!" in res.stderr and "app:app" in res.stderr, res.stderr


def test_a_leaked_fd_of_the_users_home_stays_out_and_init_holds_none(user, built):
    """CVE-2024-21626's pattern, rootless: an fd of the user's home that cairn inherits."""
    (user.home / "fd-sentinel").write_text("private")
    fd = os.open(user.home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        res = subprocess.run(user.command("run", "--rm", "--network", "none", "-w", f"/proc/self/fd/{fd}",
                                          "busybox:local", "sh", "-c", "ls; touch escaped"),
                             cwd=user.home, capture_output=True, text=True, pass_fds=(fd,), timeout=120, check=False)
        assert "fd-sentinel" not in res.stdout and not (user.home / "escaped").exists(), res.stdout
        res = subprocess.run(user.command("run", "--rm", "--init", "--network", "none", "busybox:local", "sh", "-c",
                                          "echo $(ls /proc/1/fd); echo $(ls /proc/self/fd); readlink /proc/1/exe"),
                             cwd=user.home, capture_output=True, text=True, pass_fds=(fd,), timeout=120, check=False)
    finally:
        os.close(fd)
    assert res.returncode == 0, res.stderr
    init_fds, own_fds, exe = res.stdout.split("\n")[:3]
    assert exe == "/dev/init" and set(init_fds.split()) <= {"0", "1", "2"}, res.stdout  # tini holds no host fd
    assert set(own_fds.split()) <= {"0", "1", "2", "3"}, res.stdout  # (3: ls's own)


def test_nothing_is_left_behind(user, built):
    ps = subprocess.run(["ps", "-e", "-o", "uid=,stat=,pid=,comm="], capture_output=True, text=True, check=True).stdout
    theirs = [line for line in ps.splitlines()  # the user's own, and its subordinate ids' (a container's users)
              if (int(line.split()[0]) == user.uid or user.subids <= int(line.split()[0]) < user.subids + 65536)
              and not line.split()[1].startswith("Z")]  # (an exited monitor's zombie, until init reaps it)
    assert theirs == []  # no container, no slirp4netns, no cairn
    with open("/proc/self/mountinfo") as f:
        assert str(user.home) not in f.read()
    assert [p for p in Path("/tmp").glob("cairn-slirp-*") if p.stat().st_uid == user.uid] == []
    store = user.home / ".local" / "share" / "cairn"
    tmp = [p for p in (store / "tmp").iterdir()] if (store / "tmp").is_dir() else []
    assert tmp == [], tmp
