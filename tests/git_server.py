"""Git repositories for tests: `make_repo` runs git commands in a fresh repository, and
`serving` serves a directory of repositories over git's smart HTTP protocol on 127.0.0.1 by
calling the real `git http-backend` CGI program for each request."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_AUTHOR_NAME": "test",
           "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "test",
           "GIT_COMMITTER_EMAIL": "test@example.com", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def git(repo: Path, *args: str) -> str:
    res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=GIT_ENV, timeout=60)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    return res.stdout.decode().strip()


def make_repo(path: Path, object_format: str = "sha1") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", f"--object-format={object_format}", "-b", "master")
    return path


def commit(repo: Path, files: dict[str, str], message: str, tag: str | None = None, when: int | None = None) -> str:
    """Write files (text), commit them all (at time `when`, seconds), optionally tag; the commit's hash."""
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    date = [] if when is None else [f"--date=@{when}"]
    env_date = {} if when is None else {"GIT_COMMITTER_DATE": f"@{when} +0000"}
    res = subprocess.run(["git", "-C", str(repo), "commit", "-q", *date, "-m", message], capture_output=True,
                         env={**GIT_ENV, **env_date}, timeout=60)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    if tag:
        git(repo, "tag", tag)
    return git(repo, "rev-parse", "HEAD")


@contextmanager
def serving(root: Path):
    """Serve the repositories under root (root/NAME/.git or bare root/NAME.git) over smart
    HTTP; yields the base URL http://127.0.0.1:PORT. Every request is logged in .requests."""

    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _cgi(self):
            path, _, query = self.path.partition("?")
            requests.append(f"{self.command} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {**GIT_ENV, "GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1",
                   "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
                   "CONTENT_TYPE": self.headers.get("Content-Type") or "", "CONTENT_LENGTH": str(len(body)),
                   "REMOTE_ADDR": "127.0.0.1", "GIT_PROTOCOL": self.headers.get("Git-Protocol") or ""}
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            res = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env, timeout=60)
            head, _, payload = res.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = res.stdout.partition(b"\n\n")
            status, headers = 200, []
            for line in head.decode(errors="replace").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _cgi

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests = requests
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
