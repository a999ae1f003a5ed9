"""Two stores on one machine share the bridge, so they must share its address table.

Two CI jobs with their own --root run containers at the same time: each container gets
its own address and both answer on it. Before the table was machine-wide, both stores
handed out the first address after the gateway.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request

import pytest

from builder.containers import ipam

from ..conftest import cairn_cli, imported_store

ADDRESS = re.compile(rb"inet (10\.89\.0\.\d+)/")


@pytest.fixture(scope="module")
def two_roots(tmp_path_factory, busybox_tar):
    first = imported_store(tmp_path_factory, busybox_tar, "ipam-a")
    second = imported_store(tmp_path_factory, busybox_tar, "ipam-b")
    try:
        yield next(first), next(second)
    finally:
        for gen in (second, first):
            gen.close()  # removes the test bridge


def _address_of(root, cid: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = ADDRESS.search(cairn_cli("logs", cid, root=root).stdout)
        if found:
            return found.group(1).decode()
        time.sleep(0.05)
    raise AssertionError(f"container {cid[:12]} never printed its address")


@pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")
def test_two_stores_running_at_once_get_different_addresses(two_roots):
    started = []
    try:
        for root, name in zip(two_roots, ("store-a", "store-b")):
            script = (f"mkdir -p /www && echo {name} > /www/index.html && httpd -p 80 -h /www && "
                      "ip -4 -o addr show eth0 && exec sleep 600")
            res = cairn_cli("run", "-d", "busybox:local", "sh", "-c", script, root=root)
            assert res.returncode == 0, res.stderr
            started.append((root, res.stdout.decode().strip()))
        addresses = [_address_of(root, cid) for root, cid in started]
        assert addresses[0] != addresses[1]
        for address, name in zip(addresses, ("store-a", "store-b")):
            # the host is the containers' gateway: each answers on its own address
            body = urllib.request.urlopen(f"http://{address}/", timeout=10).read()
            assert body == f"{name}\n".encode()
    finally:
        for root, cid in started:
            cairn_cli("rm", "-f", cid, root=root)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_the_address_of_a_dead_cairn_process_is_reclaimed(tmp_path, monkeypatch):
    monkeypatch.setattr(ipam, "TABLES", tmp_path)
    first = ipam.allocate("br", "10.0.0.0/29", "a" * 64)
    table = (tmp_path / "br.json").read_text()
    (tmp_path / "br.json").write_text(table.replace(f'"pid": {os.getpid()}', f'"pid": {_dead_pid()}'))
    assert ipam.allocate("br", "10.0.0.0/29", "b" * 64) == first  # cairn -9'd: the address is free


def test_a_reused_pid_does_not_keep_an_address(tmp_path, monkeypatch):
    monkeypatch.setattr(ipam, "TABLES", tmp_path)
    first = ipam.allocate("br", "10.0.0.0/29", "a" * 64)
    table = (tmp_path / "br.json").read_text()
    start = ipam.process_start(os.getpid())
    (tmp_path / "br.json").write_text(table.replace(f'"start": "{start}"', '"start": "1"'))
    assert ipam.allocate("br", "10.0.0.0/29", "b" * 64) == first


def test_live_entries_are_kept_and_release_frees_on_any_bridge(tmp_path, monkeypatch):
    monkeypatch.setattr(ipam, "TABLES", tmp_path)
    a = ipam.allocate("br", "10.0.0.0/29", "a" * 64, "/store/one")
    b = ipam.allocate("br", "10.0.0.0/29", "b" * 64, "/store/two")
    other = ipam.allocate("br2", "10.0.1.0/29", "c" * 64)
    assert len({a, b}) == 2 and str(a) == "10.0.0.2" and str(other) == "10.0.1.2"
    ipam.release("a" * 64)
    ipam.release("c" * 64)
    assert ipam.allocate("br", "10.0.0.0/29", "d" * 64) == a
    assert ipam.allocate("br2", "10.0.1.0/29", "e" * 64) == other


def test_a_full_subnet_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(ipam, "TABLES", tmp_path)
    for n in range(5):  # a /29 has 6 hosts: the gateway and 5 containers
        ipam.allocate("br", "10.0.0.0/29", f"{n}" * 64)
    with pytest.raises(ipam.CairnError, match="no free address left in 10.0.0.0/29"):
        ipam.allocate("br", "10.0.0.0/29", "x" * 64)
