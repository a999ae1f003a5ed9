"""A tiny HTTP server on one address that answers every GET with one fixed body, for tests
that check a container or a RUN step reaches the host."""

from __future__ import annotations

import http.server
import threading
from contextlib import contextmanager


@contextmanager
def serving(address: str, body: bytes):
    """Serve `body` on address (a free port); yields the port; stopped when the block ends."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((address, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
