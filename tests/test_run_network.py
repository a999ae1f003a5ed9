"""Bridge networking for `cairn run`: addresses, outbound to the host, published ports.

The tests use their own bridge and subnet (CAIRN_BRIDGE/CAIRN_SUBNET) and remove both,
with the masquerade rule, when they end. Traffic stays between the host and its own
containers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from .conftest import REPO, TEST_BRIDGE, TEST_SUBNET, cairn_cli
from .host_state import snapshot
from .text_server import serving

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

BRIDGE, SUBNET, GATEWAY = TEST_BRIDGE, TEST_SUBNET, "10.89.0.1"
NET_ENV = {"CAIRN_BRIDGE": BRIDGE, "CAIRN_SUBNET": SUBNET}


@pytest.fixture(scope="module")
def links_before():
    """The host's links before this module ran a container (cairn0 and a user's veths among them)."""
    return snapshot()


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar, links_before):
    from runtime.network import Bridge, ensure_bridge, remove_bridge

    store_root = tmp_path_factory.mktemp("netstore")
    res = cairn_cli("import", str(busybox_tar), "busybox:local", root=store_root)
    assert res.returncode == 0, res.stderr
    ensure_bridge(Bridge(BRIDGE, SUBNET))
    try:
        yield store_root
    finally:
        remove_bridge(Bridge(BRIDGE, SUBNET))


def run(root, *args, **kw):
    return cairn_cli("run", "--rm", *args, root=root, env=NET_ENV, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bridge_gives_an_address_a_route_and_hosts_entry(root):
    res = run(root, "-h", "web", "busybox:local", "sh", "-c",
              "ip -4 -o addr show eth0; ip route; tail -1 /etc/hosts")
    text = res.stdout.decode()
    assert res.returncode == 0, res.stderr
    assert "inet 10.89.0." in text and f"default via {GATEWAY}" in text and "\tweb" in text


def test_two_containers_get_different_addresses(root):
    a = run(root, "busybox:local", "sh", "-c", "ip -4 -o addr show eth0")
    b = run(root, "busybox:local", "sh", "-c", "ip -4 -o addr show eth0")
    assert a.returncode == b.returncode == 0
    # sequential containers may reuse a released address; both must be in the subnet
    for r in (a, b):
        assert "inet 10.89.0." in r.stdout.decode()


def test_container_reaches_a_server_on_the_host(root):
    with serving(GATEWAY, b"from-the-host") as port:
        # busybox-static's wget resolves through glibc's NSS, which a bare image lacks; nc does not
        res = run(root, "busybox:local", "sh", "-c",
                  f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {GATEWAY} {port}")
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith(b"from-the-host")


def _host_address() -> str:
    out = subprocess.run(["ip", "-4", "-o", "route", "get", "1.1.1.1"], capture_output=True, text=True).stdout
    parts = out.split()
    return parts[parts.index("src") + 1] if "src" in parts else "127.0.0.1"


def test_published_ports_reach_the_container(root):
    tcp = _free_port()
    env = dict(os.environ, CAIRN_ROOT=str(root), **NET_ENV)
    script = ("mkdir -p /www && echo hello-http > /www/index.html && httpd -p 80 -h /www && "
              "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done")
    proc = subprocess.Popen([sys.executable, "-m", "builder.cli", "run", "--rm", "-p", f"{tcp}:80",
                             "busybox:local", "sh", "-c", script],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n", proc.stderr.read()
        for host in ("127.0.0.1", _host_address()):
            body = urllib.request.urlopen(f"http://{host}:{tcp}/", timeout=10).read()
            assert body == b"hello-http\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    with socket.socket() as s:  # the port is free again (TIME_WAIT aside, as for any server)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", tcp))


def test_port_already_in_use_is_a_clear_error(root):
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        res = run(root, "-p", f"{port}:80", "busybox:local", "true")
    assert res.returncode == 125 and f"port 0.0.0.0:{port}/tcp is already in use".encode() in res.stderr
    assert b"Traceback" not in res.stderr


@pytest.mark.parametrize("spec", ["80", "a:80", "70000:80", "80:80/sctp", "1.2.3:80:80"])
def test_bad_publish_flags(root, spec):
    res = run(root, "-p", spec, "busybox:local", "true")
    assert res.returncode == 125 and b"invalid -p" in res.stderr


def test_publish_needs_the_bridge(root):
    res = run(root, "--network", "none", "-p", "8080:80", "busybox:local", "true")
    assert res.returncode == 125 and b"-p needs the bridge network" in res.stderr


def test_no_veth_left(root, links_before):
    """Every container above was --rm: none of their veths is still plugged into the test
    bridge, and no new link but that bridge appeared (the user's cairn0 and veths do not count)."""
    now = snapshot()
    assert now.attached_to(BRIDGE) == []
    assert [name for name in now.new_since(links_before)["links"] if name != BRIDGE] == []
