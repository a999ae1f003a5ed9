"""CAIRN_HOST: a client of `cairn serve` whose command line is long (a 70 kB --build-arg, a long
filter) must get an answer, and must not take the daemon's command runner (the zygote) down
with it: the next client's `cairn images` still runs. (A message over the zygote's read size
was cut short, its JSON failed to parse, and the zygote died: every later command through the
daemon failed with "closed the connection".) A server started from a shell that exports
CAIRN_HOST (its own address) still builds what docker's client sends (its build child took
CAIRN_HOST as its own and refused to run)."""

from __future__ import annotations

import io
import socket
import tarfile

import pytest

from ..conftest import cairn_cli
from ..serve_fixtures import _start, _stop


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    root, sock = tmp_path / "root", tmp_path / "cairn.sock"
    monkeypatch.setenv("CAIRN_HOST", f"unix://{sock}")  # (the user's shell exports it, and starts the server)
    proc = _start(root, sock)
    monkeypatch.delenv("CAIRN_HOST")
    try:
        yield root, {"CAIRN_HOST": f"unix://{sock}"}
    finally:
        _stop(proc)


def test_a_long_command_line_leaves_the_daemon_serving(daemon):
    root, env = daemon
    assert cairn_cli("images", env=env).returncode == 0
    res = cairn_cli("images", "--filter", "reference=" + "a" * 70_000, env=env)
    assert res.returncode in (0, 1, 2) and b"Traceback" not in res.stderr, res.stderr
    later = cairn_cli("images", env=env)
    assert later.returncode == 0 and later.stdout.startswith(b"REPOSITORY"), later.stderr


def test_a_server_whose_environment_names_itself_still_builds(daemon, tmp_path):
    env = daemon[1]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in (("Dockerfile", b"FROM scratch\nCOPY a /a\n"), ("a", b"hi\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    body = buf.getvalue()
    with socket.socket(socket.AF_UNIX) as s:  # (DOCKER_BUILDKIT=0 docker build's request)
        s.connect(env["CAIRN_HOST"].removeprefix("unix://"))
        s.sendall(b"POST /v1.41/build?t=app:1 HTTP/1.1\r\nContent-Type: application/x-tar\r\n"
                  b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert b"Successfully tagged app:1" in reply and b"errorDetail" not in reply, reply[-600:]
