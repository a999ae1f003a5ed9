"""A hostile HTTP server on 127.0.0.1 for unit-level attacks on the registry client.

Each route is a function (handler) -> None that writes whatever it likes: endless
bodies, gzip bombs, odd redirects. Unknown paths answer 404. `/v2/` answers 200, so
cairn takes the server for a plain-HTTP loopback registry.
"""

from __future__ import annotations

import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = b"[" * (1 << 16)


class HostileServer:
    def __init__(self):
        self.routes: dict[str, object] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _dispatch(self):
                path = self.path.split("?", 1)[0]
                if path == "/v2/" and path not in routes:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                route = routes.get(path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what a bounded reader does
                self.close_connection = True

            do_GET = do_HEAD = do_POST = _dispatch

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.domain = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "HostileServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def endless(status: int = 200, content_type: str = "application/vnd.oci.image.manifest.v1+json",
            total: int = 2 << 30, headers: dict | None = None):
    """A route that sends `total` bytes (2 GiB by default) without a length, as chunks."""
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Connection", "close")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        sent = 0
        while sent < total:
            h.wfile.write(CHUNK)
            sent += len(CHUNK)
    return route


def gzip_bomb(inflated: int = 1 << 30) -> bytes:
    """About 1 MB of gzip that inflates to `inflated` bytes of '[' (no trailer: nobody who
    reads it safely gets that far). After a full flush deflate starts afresh, so one
    compressed MiB repeats as it is."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    mib = packer.compress(b"[" * (1 << 20)) + packer.flush(zlib.Z_FULL_FLUSH)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + mib * (inflated >> 20)


def fixed(body: bytes, status: int = 200, headers: dict | None = None):
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return route


def drip(seconds: float = 60, every: float = 0.05):
    """A route that sends a manifest one byte at a time, each within any per-read timeout."""
    def route(h: BaseHTTPRequestHandler) -> None:
        import time

        h.send_response(200)
        h.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        h.send_header("Connection", "close")
        h.end_headers()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(every)
    return route
