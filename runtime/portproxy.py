"""Publishes container ports on the host (`-p HOST:CTR[/udp]`) with a userland proxy.

Like docker-proxy: a listener on the host port (all addresses unless one is given, so
127.0.0.1 and the host's own addresses both work) relays each TCP connection, or each
UDP peer's datagrams, to the container's address. Binding happens before the container
starts, so a port already in use is an error and nothing is left behind.
"""

from __future__ import annotations

import errno
import ipaddress
import selectors
import socket
import threading

from .record import Record, record

_BUF = 65536
_UDP_IDLE = 30.0


@record
class PortMapping(Record):
    host_port: int
    container_port: int
    protocol: str = "tcp"
    host_ip: str = "0.0.0.0"

    @classmethod
    def parse(cls, text: str) -> "PortMapping":
        spec, _, proto = text.partition("/")
        proto = proto or "tcp"
        if proto not in ("tcp", "udp"):
            raise ValueError(f"invalid -p {text!r}: protocol must be tcp or udp")
        parts = spec.rsplit(":", 2)
        if len(parts) == 2:
            ip, host, ctr = "0.0.0.0", parts[0], parts[1]
        elif len(parts) == 3:
            ip, host, ctr = parts[0] or "0.0.0.0", parts[1], parts[2]
        else:
            raise ValueError(f"invalid -p {text!r}: expected HOST:CTR[/udp] or IP:HOST:CTR[/udp]")
        try:
            hp, cp = int(host), int(ctr)
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise ValueError(f"invalid -p {text!r}: ports are numbers, the address an IPv4 address") from None
        if not (0 < hp < 65536 and 0 < cp < 65536):
            raise ValueError(f"invalid -p {text!r}: ports must be between 1 and 65535")
        return cls(hp, cp, proto, ip)


class PortAlreadyInUse(OSError):
    pass


class Proxy:
    """Relays one published port until close()."""

    def __init__(self, mapping: PortMapping, target_ip: str):
        self.mapping = mapping
        self.target = (target_ip, mapping.container_port)
        kind = socket.SOCK_STREAM if mapping.protocol == "tcp" else socket.SOCK_DGRAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((mapping.host_ip, mapping.host_port))
        except OSError as err:
            self.sock.close()
            if err.errno == errno.EADDRINUSE:
                raise PortAlreadyInUse(err.errno, f"port {mapping.host_ip}:{mapping.host_port}/"
                                       f"{mapping.protocol} is already in use") from None
            raise
        if mapping.protocol == "tcp":
            self.sock.listen(128)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        fn = self._serve_tcp if self.mapping.protocol == "tcp" else self._serve_udp
        t = threading.Thread(target=fn, name=f"cairn-proxy-{self.mapping.host_port}", daemon=True)
        t.start()
        self._threads.append(t)

    def _serve_tcp(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._relay, args=(client,), daemon=True)
            t.start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)
        open_sides = 2
        try:
            while open_sides and not self._stop.is_set():
                for key, _ in sel.select(timeout=0.5):
                    src, dst = key.fileobj, key.data
                    data = src.recv(_BUF)
                    if not data:
                        sel.unregister(src)
                        open_sides -= 1
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        continue
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            sel.close()
            client.close()
            upstream.close()

    def _serve_udp(self) -> None:
        peers: dict = {}
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, None)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.5):
                    if key.data is None:
                        data, peer = self.sock.recvfrom(_BUF)
                        up = peers.get(peer)
                        if up is None:
                            up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                            up.connect(self.target)
                            peers[peer] = up
                            sel.register(up, selectors.EVENT_READ, peer)
                        up.send(data)
                    else:
                        try:
                            data = key.fileobj.recv(_BUF)
                            self.sock.sendto(data, key.data)
                        except OSError:
                            pass
        except OSError:
            pass
        finally:
            for up in peers.values():
                up.close()
            sel.close()

    def close(self) -> None:
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        for t in self._threads:
            t.join(timeout=2)
