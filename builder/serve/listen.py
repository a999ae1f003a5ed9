"""Where `cairn serve` listens: `unix:///PATH` (server.bind_unix) or `tcp://HOST:PORT`. TCP is
served only with TLS and client certificates (`--tlsverify --tlscacert --tlscert --tlskey`: a
client without a certificate signed by the CA is refused in the handshake), or without TLS on
a loopback address, with a warning (anyone on this machine may then drive it)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from ..errors import CairnError


class ListenError(CairnError):
    """A --host or TLS setting that cannot be served (a usage error: exit 2)."""


def parse_tcp(host: str) -> tuple[str, int]:
    parts = urlsplit(host)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ListenError(f"--host {host!r}: expected tcp://HOST:PORT")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or not 0 < port < 65536:
        raise ListenError(f"--host {host!r}: expected tcp://HOST:PORT with a port from 1 to 65535")
    return parts.hostname, port


def is_loopback(hostname: str) -> bool:
    """Whether every address the name stands for is a loopback one."""
    try:
        infos = socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def tls_context(cacert: str, cert: str, key: str) -> ssl.SSLContext:
    """A server context that requires a client certificate signed by cacert (TLS 1.2 at least)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(cafile=cacert)
    except (OSError, ssl.SSLError) as err:
        raise ListenError(f"cannot use the TLS files (--tlscacert {cacert}, --tlscert {cert}, --tlskey {key}): "
                          f"{err}") from None
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def bind_tcp(host: str, tlsverify: bool, cacert: str | None, cert: str | None, key: str | None,
             warn) -> tuple[socket.socket, ssl.SSLContext | None]:
    """The listening socket and its TLS context (None on plain loopback, after warn(text))."""
    hostname, port = parse_tcp(host)
    tls = None
    if tlsverify:
        missing = [flag for flag, v in (("--tlscacert", cacert), ("--tlscert", cert), ("--tlskey", key)) if not v]
        if missing:
            raise ListenError(f"--tlsverify needs {', '.join(missing)}")
        tls = tls_context(cacert, cert, key)
    elif cacert or cert or key:
        raise ListenError("--tlscacert, --tlscert and --tlskey are used with --tlsverify (client certificates "
                          "required); add --tlsverify")
    elif not is_loopback(hostname):
        raise ListenError(f"--host {host}: refusing to serve TCP off this machine without TLS: anyone who "
                          f"reaches the port would be root here. Add --tlsverify --tlscacert CA --tlscert CERT "
                          f"--tlskey KEY (clients then need a certificate signed by CA), or listen on 127.0.0.1")
    else:
        warn(f"WARNING: serving the API on {host} without TLS: any process on this machine that can reach "
             f"the port can drive cairn as root (use a unix socket, or --tlsverify)")
    infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    family, _type, _proto, _name, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise CairnError(f"--host {host}: cannot listen there: {err.strerror or err}") from None
    sock.listen(128)
    return sock, tls
