"""A directory served over HTTP on 127.0.0.1 for a test's ADD <url> steps (a thread of the
test's process; stopped when the block ends, also when the test fails)."""

from __future__ import annotations

import contextlib
import http.server
import threading
from pathlib import Path


@contextlib.contextmanager
def serving(directory: Path):
    """Yields the base URL (http://127.0.0.1:PORT) of a server of the files under directory."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(directory), **kw)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
