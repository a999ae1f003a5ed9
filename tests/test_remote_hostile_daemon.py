"""The cairn CLI against a hostile daemon (CAIRN_HOST=tcp://127.0.0.1:PORT, plain TCP to a
loopback address): whatever the daemon answers (not JSON, a JSON nested past the parser's
depth, a broken Content-Length, progress events of other shapes), the command ends with a
clear error and status 1, never a Python traceback. A unit test: the daemon is a socket in
the test's process that answers every request with one canned reply."""

from __future__ import annotations

import socket
import threading

import pytest

from .inproc import cairn


def _reply(body: bytes, head: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + head + b"Content-Length: %d\r\n\r\n" % len(body) + body


DEEP = b"[" * 100_000 + b"]" * 100_000
STREAM = b"Content-Type: application/json\r\n"

# (what the daemon does, its reply, the command line)
ROWS = [
    ("a list that is not JSON", _reply(b"hello"), ["images"]),
    ("a JSON nested 100000 deep", _reply(DEEP), ["images"]),
    ("a JSON nested 100000 deep (ps)", _reply(DEEP), ["ps"]),
    ("a Content-Length that is no number", b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n[]", ["images"]),
    ("a created container's reply not JSON", b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\n{x}",
     ["run", "busybox:local", "true"]),
    ("a build's exit status that is no number", _reply(b'{"cairnexit": "zero"}\n', STREAM), ["build", "{ctx}"]),
    ("a build step's seconds that are no number",
     _reply(b'{"cairn": {"type": "done", "step": 1, "seconds": "soon"}}\n{"cairnexit": 0}\n', STREAM),
     ["build", "--progress", "plain", "{ctx}"]),
    ("a build's exit status over any C int", _reply(b'{"cairnexit": 99999999999999999999999}\n', STREAM),
     ["build", "{ctx}"]),
    ("a build's exit status that is infinite", _reply(b'{"cairnexit": 1e400}\n', STREAM), ["build", "{ctx}"]),
    ("a build's exit status below 0", _reply(b'{"cairnexit": -1}\n', STREAM), ["build", "{ctx}"]),
    ("a build event nested 100000 deep", _reply(b'{"cairn": ' + DEEP + b'}\n{"cairnexit": "x"}\n', STREAM),
     ["build", "{ctx}"]),
]


@pytest.fixture
def daemon(monkeypatch):
    """A daemon on 127.0.0.1 that reads each request whole and answers it with `answer[0]`."""
    answer = [b""]
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                got = conn.recv(65536)
                if not got:
                    return
                data += got
            head, _, body = data.partition(b"\r\n\r\n")
            if b"chunked" in head.lower():  # (a build's context: read to its last chunk)
                while not body.endswith(b"0\r\n\r\n"):
                    got = conn.recv(65536)
                    if not got:
                        return
                    body += got
            try:
                conn.sendall(answer[0])
                conn.shutdown(socket.SHUT_WR)
            except OSError:  # (a client that stopped reading a reply too long for it)
                pass

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("CAIRN_HOST", f"tcp://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.delenv("CAIRN_TLS_VERIFY", raising=False)
    try:
        yield answer
    finally:
        stop.set()
        server.shutdown(socket.SHUT_RDWR)  # (wakes the accept)
        server.close()
        thread.join()


def test_a_hostile_daemon_gets_a_clear_error_never_a_traceback(daemon, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    for what, reply, args in ROWS:
        daemon[0] = reply
        res = cairn(*[a.format(ctx=tmp_path) for a in args])
        assert res.returncode == 1, (what, res.stderr)
        assert "error:" in res.stderr and "internal error" not in res.stderr, (what, res.stderr)
        assert len(res.stderr) < 2000, what
