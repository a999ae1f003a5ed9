"""Security regressions for containers and RUN steps (issue #13, findings 4-8), written as
an attacker would try them: a leaked host fd, --init's PID 1, device nodes, namespaces
made from inside, and the build's network."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ..conftest import REPO, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "securitystore", 'CMD ["/bin/sh"]')


def cairn(root, *args, pass_fds=(), stdin=None):
    """The CLI in a subprocess that inherits `pass_fds` (as a shell's `exec 7</etc` would)."""
    env = dict(os.environ, CAIRN_ROOT=str(root))
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], cwd=REPO, env=env, input=stdin,
                          capture_output=True, timeout=300, pass_fds=pass_fds, check=False)


def build(root, context, *args, pass_fds=()):
    return cairn(root, "build", "--progress", "plain", *args, str(context), pass_fds=pass_fds)


def _dockerfile(tmp_path, text):
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(text)
    return ctx


@pytest.fixture
def host_dir(tmp_path):
    """A host directory an attacker must not reach, opened as an inherited fd."""
    d = tmp_path / "host-secret"
    d.mkdir()
    (d / "host-sentinel").write_text("secret")
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield d, fd
    finally:
        os.close(fd)


# 4. Leaked file descriptors (CVE-2024-21626's pattern)

def test_run_workdir_through_a_leaked_fd_stays_inside(root, host_dir):
    d, fd = host_dir
    res = cairn(root, "run", "--rm", "--network", "none", "-w", f"/proc/self/fd/{fd}", "busybox:local",
                "sh", "-c", "ls; touch escaped-marker", pass_fds=(fd,))
    assert b"host-sentinel" not in res.stdout
    assert sorted(os.listdir(d)) == ["host-sentinel"]


def test_build_workdir_through_a_leaked_fd_stays_inside(root, host_dir, tmp_path):
    d, fd = host_dir
    ctx = _dockerfile(tmp_path, f"FROM busybox:local\nWORKDIR /proc/self/fd/{fd}\nRUN ls; touch escaped-marker\n")
    res = build(root, ctx, pass_fds=(fd,))
    assert b"host-sentinel" not in res.stderr + res.stdout
    assert sorted(os.listdir(d)) == ["host-sentinel"]


def test_the_containers_cgroup_namespace_is_rooted_at_its_own_cgroup(root):
    """The container enters its cgroup namespace only after cairn moved it into its cgroup
    (which now happens while it builds its root): no line of /proc/self/cgroup may show
    where on the host that cgroup is."""
    res = cairn(root, "run", "--rm", "--network", "none", "busybox:local", "cat", "/proc/self/cgroup")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.decode().splitlines()
    assert lines and [line for line in lines if not line.endswith(":/")] == []


def test_no_fd_above_2_reaches_the_container(root, host_dir):
    _d, fd = host_dir
    res = cairn(root, "run", "--rm", "--network", "none", "busybox:local", "ls", "/proc/self/fd",
                pass_fds=(fd,))
    assert res.returncode == 0, res.stderr
    # ls itself opens one fd (3) to read the directory; nothing else may be there
    assert set(res.stdout.decode().split()) <= {"0", "1", "2", "3"}, res.stdout


# 5. --init: PID 1 is tini, not a fork of cairn holding the store and the host's environment

def test_init_pid1_holds_no_store_file_and_no_host_env(root):
    env_secret = "CAIRN_TEST_HOST_SECRET=do-not-leak"
    script = "ls -l /proc/1/fd; tr '\\0' '\\n' < /proc/1/environ; readlink /proc/1/exe"
    res = subprocess.run([sys.executable, "-m", "builder.cli", "run", "--rm", "--init", "--network", "none",
                          "busybox:local", "sh", "-c", script], cwd=REPO, capture_output=True, timeout=300,
                         env=dict(os.environ, CAIRN_ROOT=str(root), CAIRN_TEST_HOST_SECRET="do-not-leak"), check=False)
    text = res.stdout.decode()
    assert res.returncode == 0, res.stderr
    assert "PATH=" in text  # the container's own environment is there
    assert env_secret not in text and "cairn.db" not in text and str(root) not in text, text
    assert "python" not in text, text


def test_detached_init_returns_while_the_container_runs(root):
    name = "sec-init-detached"
    try:
        try:
            res = subprocess.run([sys.executable, "-m", "builder.cli", "run", "-d", "--init", "--name", name,
                                  "--network", "none", "busybox:local", "sleep", "1000"], cwd=REPO,
                                 capture_output=True, timeout=120, env=dict(os.environ, CAIRN_ROOT=str(root)), check=False)
        except subprocess.TimeoutExpired:
            pytest.fail("run -d --init did not return while its container ran")
        assert res.returncode == 0, res.stderr
        ps = cairn(root, "ps")
        assert name.encode() in ps.stdout and b"Up " in ps.stdout, ps.stdout
    finally:
        cairn(root, "rm", "-f", name)


# 6. Devices: no host device may be opened, whether made with mknod or shipped in a layer

_MKNOD_HWRNG = ("for p in /x /dev/x /tmp/x; do mknod $p c 10 183 && head -c1 $p >/dev/null && echo READ:$p; "
                "done; true")


def test_mknod_of_a_host_device_cannot_be_read_in_run(root):
    res = cairn(root, "run", "--rm", "--network", "none", "busybox:local", "sh", "-c", _MKNOD_HWRNG)
    assert res.returncode == 0, res.stderr
    assert b"READ:/" not in res.stdout, res.stdout


def test_mknod_of_a_host_device_cannot_be_read_in_a_run_step(root, tmp_path):
    ctx = _dockerfile(tmp_path, f"FROM busybox:local\nRUN {_MKNOD_HWRNG}\n")
    res = build(root, ctx, "--no-cache")
    assert res.returncode == 0, res.stderr
    assert b"READ:/" not in res.stderr + res.stdout, res.stderr  # (the step's text holds READ:$p)


@pytest.fixture(scope="module")
def image_with_a_device(root, busybox_tar, tmp_path_factory):
    """busybox plus /hwrng, a 0666 char device 10:183 shipped in the image's layer."""
    import tarfile

    out = tmp_path_factory.mktemp("devimage") / "rootfs.tar"
    with tarfile.open(busybox_tar) as src, tarfile.open(out, "w") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        node = tarfile.TarInfo("hwrng")
        node.type, node.devmajor, node.devminor, node.mode = tarfile.CHRTYPE, 10, 183, 0o666
        dst.addfile(node)
    res = cairn(root, "import", str(out), "devimage:local")
    assert res.returncode == 0, res.stderr
    return "devimage:local"


@pytest.mark.parametrize("user", ["0", "65534"])
def test_a_device_node_from_an_image_cannot_be_opened(root, image_with_a_device, user):
    res = cairn(root, "run", "--rm", "--network", "none", "-u", user, image_with_a_device, "sh", "-c",
                "ls -l /hwrng; head -c1 /hwrng >/dev/null && echo READ")
    assert b"hwrng" in res.stdout, res.stderr  # the node is there
    assert b"READ" not in res.stdout.replace(b"hwrng", b""), res.stdout


# 7. Seccomp: docker's default profile; no namespaces (and so no mounts) from inside

_UNSHARE_MOUNT = ("grep Seccomp: /proc/self/status; "
                  "unshare -Urm sh -c 'mkdir -p /m && mount -t tmpfs none /m && echo mounted-$((1+1))' 2>&1; true")


def test_a_container_cannot_unshare_and_mount(root):
    res = cairn(root, "run", "--rm", "--network", "none", "busybox:local", "sh", "-c", _UNSHARE_MOUNT)
    assert res.returncode == 0, res.stderr
    text = res.stdout.decode()
    assert "mounted-2" not in text and "Operation not permitted" in text, text
    assert "Seccomp:\t2" in text, text  # a filter is installed


def test_a_run_step_cannot_unshare_and_mount(root, tmp_path):
    ctx = _dockerfile(tmp_path, f"FROM busybox:local\nRUN {_UNSHARE_MOUNT}\n")
    res = build(root, ctx, "--no-cache")
    assert res.returncode == 0, res.stderr
    assert b"mounted-2" not in res.stderr and b"Seccomp:\t2" in res.stderr, res.stderr


# 8. RUN gets its own network namespace; the host's needs --allow network.host

@pytest.fixture
def host_only_link():
    """A link only the host has: a RUN step that sees it shares the host's network."""
    name = "cairnsec" + os.urandom(3).hex()
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)  # (no dummy driver everywhere)
    try:
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], check=False)



def test_a_run_step_does_not_see_the_host_network(root, tmp_path, host_only_link):
    ctx = _dockerfile(tmp_path, "FROM busybox:local\nRUN cat /proc/net/dev\n")
    res = build(root, ctx, "--no-cache")
    assert res.returncode == 0, res.stderr
    assert host_only_link.encode() not in res.stderr and b"eth0" in res.stderr, res.stderr


def test_run_network_host_needs_the_entitlement(root, tmp_path, host_only_link):
    ctx = _dockerfile(tmp_path, "FROM busybox:local\nRUN --network=host cat /proc/net/dev\n")
    res = build(root, ctx, "--no-cache")
    assert res.returncode != 0
    assert b"Dockerfile:2" in res.stderr and b"network.host is not allowed" in res.stderr, res.stderr
    assert host_only_link.encode() not in res.stderr
    res = build(root, ctx, "--no-cache", "--allow", "network.host")
    assert res.returncode == 0, res.stderr
    assert host_only_link.encode() in res.stderr


def test_a_run_step_reaches_a_server_through_the_bridge(root, tmp_path):
    from runtime.network import Bridge, ensure_bridge

    from ..conftest import TEST_BRIDGE, TEST_SUBNET
    from ..text_server import serving

    bridge = Bridge(TEST_BRIDGE, TEST_SUBNET)
    ensure_bridge(bridge)  # (the module's fixture removes it)
    with serving(str(bridge.gateway), b"served-to-the-build") as port:
        ctx = _dockerfile(tmp_path, f"FROM busybox:local\nRUN wget -q -O - http://{bridge.gateway}:{port}/\n")
        res = build(root, ctx, "--no-cache")
    assert res.returncode == 0, res.stderr
    assert b"served-to-the-build" in res.stderr


# 6 (cgroup v2). The eBPF device program, checked on its own on the v2 tree

def _open_in_child(cgroup_dir: str, paths: tuple[str, ...]) -> list[str]:
    """In a child moved into cgroup_dir: which of paths open (or the error)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
            out = []
            for path in paths:
                try:
                    os.close(os.open(path, os.O_RDONLY))
                    out.append("open")
                except OSError as err:
                    out.append(err.strerror)
            os.write(w, "\n".join(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read().decode()
    os.waitpid(pid, 0)
    return data.split("\n")


def test_the_v2_device_program_allows_only_the_list():
    from pathlib import Path

    from runtime import device_bpf
    from runtime.devices import ALLOWED

    own = next(line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
               if line.startswith("0::"))
    mount = next((line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                  if " - cgroup2 " in line), None)
    if mount is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    d = os.path.join(mount + own.rstrip("/"), "cairn-sec-" + os.urandom(4).hex())
    os.mkdir(d)
    try:
        device_bpf.attach(d, ALLOWED)
        assert _open_in_child(d, ("/dev/null", "/dev/urandom", "/dev/hwrng", "/dev/kmsg")) == \
            ["open", "open", "Operation not permitted", "Operation not permitted"]
    finally:
        os.rmdir(d)


def test_a_run_step_off_the_host_network_gets_reachable_name_servers():
    from builder.executor.run_network import FALLBACK_NAMESERVERS, resolv_conf

    stub = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n"
    bridged = resolv_conf(stub, "bridge")
    assert "127.0.0.53" not in bridged and "search lan" in bridged
    assert all(f"nameserver {ns}" in bridged for ns in FALLBACK_NAMESERVERS)
    assert resolv_conf("nameserver 10.0.0.2\n", "bridge") == "nameserver 10.0.0.2\n"
    assert resolv_conf(stub, "host") == stub
