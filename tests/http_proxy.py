"""A misbehaving HTTP proxy in front of the real registry, for fault tests.

It forwards every request to the registry, except that it can: answer 503 to the first N
blob downloads (or to everything, or to the first request of one method), cut the first blob download off half-way, or answer
blob downloads with a 307 to a second server on another port (a "CDN" that serves the
blob from the registry's storage and records any Authorization header it is sent).
"""

from __future__ import annotations

import http.client
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_BLOB_GET = re.compile(r"^/v2/.+/blobs/(sha256:[a-f0-9]{64})$")
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization"}


class Proxy:
    def __init__(self, upstream_port: int, fail_first: int = 0, fail_always: bool = False,
                 drop_first_blob: bool = False, redirect_blobs_to: Path | None = None,
                 fail_method: str | None = None):
        self.upstream_port = upstream_port
        self.fail_first = fail_first
        self.fail_always = fail_always
        self.fail_method = fail_method  # answer 503 to the first request with this method
        self.drop_first_blob = drop_first_blob
        self.storage = redirect_blobs_to
        self.failed = self.dropped = self.redirected = 0
        self.seen_authorization: list[str] = []
        self.log: list[tuple[str, str, int, int]] = []  # (method, path, status, body bytes) forwarded
        self.cdn_authorization: list[str] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                proxy._handle(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        class CdnHandler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.headers.get("Authorization"):
                    proxy.cdn_authorization.append(self.headers["Authorization"])
                hexd = self.path.rsplit(":", 1)[-1]
                data = (proxy.storage / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data").read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler)]
        if redirect_blobs_to is not None:
            self._servers.append(ThreadingHTTPServer(("127.0.0.1", 0), CdnHandler))
        for server in self._servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._servers[0].server_address[1]}"

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0)) if h.command in ("POST", "PUT", "PATCH") \
            else b""
        if h.headers.get("Authorization"):
            self.seen_authorization.append(h.headers["Authorization"])
        blob = _BLOB_GET.match(h.path.split("?")[0]) if h.command == "GET" else None
        with self._lock:
            fail = self.fail_always or (blob is not None and self.failed < self.fail_first) or \
                (h.command == self.fail_method and self.failed == 0)
            if fail:
                self.failed += 1
            drop = blob is not None and not fail and self.drop_first_blob and self.dropped == 0
            if drop:
                self.dropped += 1
        if fail:
            h.send_response(503)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if blob is not None and self.storage is not None:
            self.redirected += 1
            h.send_response(307)
            h.send_header("Location", f"http://127.0.0.1:{self._servers[1].server_address[1]}/blob/{blob.group(1)}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            conn.putrequest(h.command, h.path, skip_host=True, skip_accept_encoding=True)
            for name, value in h.headers.items():
                if name.lower() not in _HOP and name.lower() != "content-length":
                    conn.putheader(name, value)
            if h.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            h.send_response(resp.status)
            for name, value in resp.getheaders():
                if name.lower() not in _HOP and name.lower() != "content-length":
                    h.send_header(name, value)
            length = int(resp.getheader("Content-Length") or len(data)) if h.command == "HEAD" else len(data)
            h.send_header("Content-Length", str(length))
            h.end_headers()
            self.log.append((h.command, h.path, resp.status, len(data)))
            if h.command != "HEAD":
                if drop:
                    h.wfile.write(data[: len(data) // 2])
                    h.wfile.flush()
                    h.close_connection = True
                    return
                h.wfile.write(data)
        finally:
            conn.close()

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "Proxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
