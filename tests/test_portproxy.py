"""The userland port proxy relays TCP and UDP, with real sockets on loopback."""

from __future__ import annotations

import socket
import threading

import pytest

from runtime.portproxy import PortAlreadyInUse, PortMapping, Proxy


def _free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_parse():
    assert PortMapping.parse("8080:80") == PortMapping(8080, 80, "tcp", "0.0.0.0")
    assert PortMapping.parse("127.0.0.1:53:5353/udp") == PortMapping(53, 5353, "udp", "127.0.0.1")
    for bad in ("80", "x:80", "0:80", "80:80/icmp", "1.2.3:80:80"):
        with pytest.raises(ValueError):
            PortMapping.parse(bad)


def test_tcp_relay_both_ways():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def echo():
        conn, _ = server.accept()
        with conn:
            data = conn.recv(100)
            conn.sendall(b"echo:" + data)

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    proxy = Proxy(PortMapping(_free_port(), server.getsockname()[1], "tcp", "127.0.0.1"), "127.0.0.1")
    proxy.start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.mapping.host_port), timeout=5) as c:
            c.sendall(b"hi")
            c.shutdown(socket.SHUT_WR)
            assert c.recv(100) == b"echo:hi"
    finally:
        proxy.close()
        server.close()


def test_udp_relay_both_ways():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)

    def echo():
        data, peer = server.recvfrom(100)
        server.sendto(b"udp-" + data, peer)

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    proxy = Proxy(PortMapping(_free_port(socket.SOCK_DGRAM), server.getsockname()[1], "udp", "127.0.0.1"),
                  "127.0.0.1")
    proxy.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.settimeout(5)
            c.sendto(b"ping", ("127.0.0.1", proxy.mapping.host_port))
            assert c.recvfrom(100)[0] == b"udp-ping"
    finally:
        proxy.close()
        server.close()


def test_port_in_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        with pytest.raises(PortAlreadyInUse):
            Proxy(PortMapping(busy.getsockname()[1], 80, "tcp", "127.0.0.1"), "127.0.0.1")
