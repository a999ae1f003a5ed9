"""The cairn CLI's connection to a daemon on another machine (CAIRN_HOST=tcp://HOST:PORT), or to
one on this machine for a user other than its own (unix:///PATH: serve/cli_route.py runs commands
inside the daemon only for root; here the user's own process reads and writes its files):
TLS as docker's CLI sets it up (--tlsverify, --tlscacert/--tlscert/--tlskey, or
CAIRN_TLS_VERIFY and CAIRN_CERT_PATH holding ca.pem, cert.pem, key.pem), plain TCP only to a
loopback daemon (with a warning), and a small HTTP/1.1 client for the Engine API: JSON
requests, a body streamed in chunks, a reply read in chunks or as a hijacked stream. Every
reply is bounded: a JSON reply or a stream line over its limit ends the command."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
from urllib.parse import quote, urlencode

MAX_JSON = 64 << 20   # a JSON reply (a list of images or containers) at most
MAX_LINE = 4 << 20    # one line of a JSON stream (a build's progress event) at most
# objects and arrays in one JSON reply at most: 64 MiB of `{},` are 22 million dicts (~1.5 GB
# parsed; as many rows for ps, ~20 GB): the byte cap alone bounds no memory
MAX_VALUES = 1_000_000
SMALL = 1 << 20  # a reply that is one small object (an error, a new container's ID, an exit status)
API = "/v1.41"


class RemoteError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class Tls:
    """The client's TLS settings: (ca, cert, key) paths, or None for plain TCP."""

    def __init__(self, verify: bool = False, cacert: str | None = None, cert: str | None = None,
                 key: str | None = None):
        self.verify, self.ca, self.cert, self.key = verify, cacert, cert, key

    def resolved(self) -> tuple[str, str, str] | None:
        env_verify = os.environ.get("CAIRN_TLS_VERIFY", "") not in ("", "0", "false")
        if not (self.verify or env_verify or self.ca or self.cert or self.key):
            return None
        base = os.environ.get("CAIRN_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".cairn")
        return (self.ca or os.path.join(base, "ca.pem"), self.cert or os.path.join(base, "cert.pem"),
                self.key or os.path.join(base, "key.pem"))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Daemon:
    """The daemon at tcp://HOST:PORT; connect() gives a fresh connection for each request."""

    def __init__(self, url: str, tls: Tls):
        self.unix = url.removeprefix("unix://") if url.startswith("unix://") else None
        if self.unix is not None:  # (a user other than the daemon's on its socket: cli_client.NotOwnUser)
            self.url, self.host, self.port, self.files, self._ssl = url, "localhost", 0, None, None
            return
        where = url.removeprefix("tcp://").rstrip("/")
        host, _, port = where.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RemoteError(f"CAIRN_HOST={url}: expected tcp://HOST:PORT", 2)
        self.url, self.host, self.port = url, host.strip("[]"), int(port)
        self.files = tls.resolved()
        if self.files is None:
            if not _loopback(self.host):
                raise RemoteError(f"CAIRN_HOST={url}: a daemon on another machine is reached only with TLS client "
                                  f"certificates: add --tlsverify (and --tlscacert, --tlscert, --tlskey, or set "
                                  f"CAIRN_TLS_VERIFY=1 and CAIRN_CERT_PATH)", 2)
            print(f"WARNING: {url}: plain TCP without TLS (only to a loopback daemon)", file=sys.stderr)
        self._ssl = None

    def _context(self):
        if self._ssl is None:
            import ssl

            ca, cert, key = self.files
            try:
                ctx = ssl.create_default_context(cafile=ca)
                ctx.load_cert_chain(cert, key)
            except (OSError, ssl.SSLError) as err:
                raise RemoteError(f"cannot use the TLS files ({ca}, {cert}, {key}): {err}", 2) from None
            self._ssl = ctx
        return self._ssl

    def connect(self) -> socket.socket:
        if self.unix is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.unix)
            except OSError as err:
                sock.close()
                raise RemoteError(f"cannot reach the cairn daemon at {self.url}: {err.strerror or err}") from None
            return sock
        try:
            sock = socket.create_connection((self.host, self.port), timeout=60)
        except OSError as err:
            raise RemoteError(f"cannot reach the cairn daemon at {self.url}: {err.strerror or err}") from None
        if self.files is None:
            sock.settimeout(None)
            return sock
        import ssl

        try:
            tls = self._context().wrap_socket(sock, server_hostname=self.host)
        except (OSError, ssl.SSLError) as err:
            sock.close()
            raise RemoteError(f"TLS with the cairn daemon at {self.url} failed: {err}") from None
        tls.settimeout(None)
        return tls

    def request(self, method: str, path: str, query: dict | None = None, body=None, headers: dict | None = None):
        """Send a request on a fresh connection; the Reply (status and head read). body: a
        JSON-able object, bytes, or an iterator of byte chunks (sent chunked)."""
        sock = self.connect()
        target = API + quote(path) + ("?" + urlencode(query, doseq=True) if query else "")
        head = {"Host": "cairn", "User-Agent": "cairn-cli", **(headers or {})}
        data = None
        if body is not None and not isinstance(body, (bytes, dict, list)) and not hasattr(body, "__next__"):
            raise TypeError(body)
        if isinstance(body, (dict, list)):
            data, head["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif isinstance(body, bytes):
            data = body
        if data is not None:
            head["Content-Length"] = str(len(data))
        elif body is not None:
            head["Transfer-Encoding"] = "chunked"
        elif method in ("POST", "PUT", "DELETE"):
            head["Content-Length"] = "0"
        try:
            sock.sendall((f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items())
                          + "\r\n").encode())
            if data:
                sock.sendall(data)
            elif body is not None:
                for chunk in body:
                    if chunk:
                        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sock.sendall(b"0\r\n\r\n")
        except OSError as err:
            sock.close()
            raise RemoteError(f"the cairn daemon at {self.url} closed the connection: {err.strerror or err}") from None
        return Reply(sock, self.url)

    def json(self, method: str, path: str, query: dict | None = None, body=None, ok=(200, 201, 204)):
        reply = self.request(method, path, query, body)
        with reply:
            data = reply.read_all()
            if reply.status not in ok:
                raise RemoteError(reply.message(data))
            if data.count(b"{") + data.count(b"[") > MAX_VALUES:  # (an upper bound: brackets in strings count too)
                raise RemoteError(f"the cairn daemon at {self.url} sent a reply of more than {MAX_VALUES} objects")
            try:
                return json.loads(data) if data.strip() else None
            except (ValueError, RecursionError):  # (not JSON, or nested past the parser's depth)
                raise RemoteError(f"the cairn daemon at {self.url} sent a reply that is not JSON") from None


class Reply:
    def __init__(self, sock, url: str):
        self.sock, self.url = sock, url
        self.file = sock.makefile("rb")
        line = self.file.readline(65536)
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            self.close()
            raise RemoteError(f"the cairn daemon at {url} did not answer (or is not a cairn daemon): {line[:80]!r}")
        self.status = int(parts[1])
        self.headers: dict[str, str] = {}
        for _ in range(200):
            line = self.file.readline(65536)
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            self.headers[key.strip().lower()] = value.strip()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def chunks(self):
        """The body's bytes as they come (chunked, to Content-Length, or to the close)."""
        if self.status in (101, 204, 304):
            return
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size_line = self.file.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise RemoteError(f"the cairn daemon at {self.url} sent a broken reply") from None
                if size < 0:
                    raise RemoteError(f"the cairn daemon at {self.url} sent a broken reply")
                if size == 0:
                    return
                left = size
                while left:
                    data = self.file.read1(min(left, 65536))
                    if not data:
                        raise RemoteError(f"the cairn daemon at {self.url} closed the connection")
                    left -= len(data)
                    yield data
                self.file.readline(16)
        elif "content-length" in self.headers:
            left = self.headers["content-length"] or "0"
            if not left.isdigit() or not left.isascii():
                raise RemoteError(f"the cairn daemon at {self.url} sent a broken reply")
            left = int(left)
            while left > 0:
                data = self.file.read1(min(left, 65536))
                if not data:
                    return
                left -= len(data)
                yield data
        else:
            while data := self.file.read1(65536):
                yield data

    def read_all(self, limit: int = MAX_JSON) -> bytes:
        out = bytearray()
        for chunk in self.chunks():
            out += chunk
            if len(out) > limit:
                raise RemoteError(f"the cairn daemon at {self.url} sent a reply over {limit} bytes")
        return bytes(out)

    def lines(self):
        """A JSON stream's objects, one per line (each line at most MAX_LINE)."""
        buf = b""
        for chunk in self.chunks():
            # (one split a chunk: splitting a line at a time copied the rest of the buffer for
            # each line, ~1 s of CPU per MiB of bare newlines from a hostile daemon)
            *whole, buf = (buf + chunk).split(b"\n")
            for line in whole:
                if line.strip():
                    yield _loads(line)
            if len(buf) > MAX_LINE:
                raise RemoteError(f"the cairn daemon at {self.url} sent a line over {MAX_LINE} bytes")
        if buf.strip():
            yield _loads(buf)

    def message(self, data: bytes) -> str:
        try:
            if len(data) > SMALL:  # (not an error document: not parsed, its start shown)
                raise ValueError(len(data))
            return str(json.loads(data)["message"])
        except (ValueError, KeyError, TypeError, RecursionError):
            return data.decode("utf-8", "replace").strip()[:1000] or f"the daemon answered {self.status}"


def _loads(line: bytes):
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return {"stream": line.decode("utf-8", "replace") + "\n"}
