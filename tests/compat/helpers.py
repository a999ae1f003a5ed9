"""What the ported tests share: write a context, build it with the real CLI, read the result."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ..conftest import cairn_cli

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


def write(ctx: Path, files: dict[str, str | bytes]) -> Path:
    ctx.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return ctx


def build(root: Path, ctx: Path, *args: str, env=None) -> subprocess.CompletedProcess:
    return cairn_cli("build", "--progress", "plain", *args, str(ctx), root=root, env=env)


def build_ok(root: Path, ctx: Path, *args: str, env=None) -> str:
    """Build; fail the test with cairn's own output when the build fails. Returns stderr."""
    res = build(root, ctx, *args, env=env)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-3000:]
    return res.stderr.decode(errors="replace")


def build_err(root: Path, ctx: Path, *args: str) -> str:
    """Build that must fail with a clear error (no traceback). Returns stderr."""
    res = build(root, ctx, *args)
    err = res.stderr.decode(errors="replace")
    assert res.returncode != 0, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    return err


def export(root: Path, ctx: Path, dest: Path, *args: str) -> Path:
    """Build and write the final image's filesystem to dest (-o type=local)."""
    build_ok(root, ctx, "-o", f"type=local,dest={dest}", *args)
    return dest


def image_config(root: Path, ref: str) -> dict:
    res = cairn_cli("inspect", ref, root=root)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)[0]


def cached_steps(stderr: str) -> int:
    return sum(1 for line in stderr.splitlines() if line.rstrip().endswith("CACHED"))

# A test that runs RUN steps or containers; the others only copy files and can run without
# the container lock (`-m "not container"`).
container = pytest.mark.container


class LoopbackHTTP:
    """A tiny HTTP server on 127.0.0.1 for ADD <url>: path -> (body, extra headers); it
    records each request's method, path and User-Agent."""

    def __init__(self, routes: dict[str, tuple[bytes, dict]]):
        import http.server
        import threading

        self.routes, self.requests = routes, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self, with_body: bool):
                outer.requests.append((self.command, self.path, self.headers.get("User-Agent", "")))
                body, headers = outer.routes.get(self.path, (None, {}))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_GET(self):
                self._reply(True)

            def do_HEAD(self):
                self._reply(False)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def tar_bytes(files: dict[str, bytes], gz: bool = False, owner: tuple[int, int] = (0, 0),
              links: dict[str, str] | None = None) -> bytes:
    """An archive holding only the given regular files and symlinks (no directory entries)."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), 0o644, *owner
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()
