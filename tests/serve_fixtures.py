"""What the tests of `cairn serve` share: a server started on a socket (stopped with SIGTERM,
also when a test fails), a store served for a whole module, the docker CLI pointed at it, and
one raw request on a fresh connection."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from .conftest import REPO, imported_store

DOCKER = "/usr/bin/docker"


def _start(root, sock, *extra, env=None):
    """env: variables the server gets on top of the test's own (HOME, DOCKER_CONFIG, ...)."""
    log = subprocess.PIPE if os.environ.get("CAIRN_TEST_SERVE_LOG") is None else None
    proc = subprocess.Popen([sys.executable, "-m", "builder.cli", "--root", str(root), "serve",
                             "--host", f"unix://{sock}", *extra], cwd=REPO, stderr=log,
                            env={**os.environ, **(env or {})})
    for _ in range(300):  # (the socket appears once the server listens; not a timing assertion)
        if sock.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    if not sock.exists():
        _stop(proc)
        raise AssertionError(f"cairn serve did not start: {proc.stderr.read().decode()}")
    return proc


def _stop(proc) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def serving(tmp_path_factory, busybox_tar, name: str):
    """(store root with busybox:local, socket path) served until the generator ends."""
    gen = imported_store(tmp_path_factory, busybox_tar, name)
    root = next(gen)
    sock = tmp_path_factory.mktemp("sock") / "cairn.sock"
    proc = _start(root, sock)
    try:
        yield root, sock
    finally:
        _stop(proc)
        next(gen, None)


def docker_runner(sock, home, **extra_env):
    """run(*args) -> (exit code, stdout, stderr) of the docker CLI talking to the socket."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DOCKER_HOST": f"unix://{sock}",
           "DOCKER_CONFIG": str(home / "docker-config"), "HOME": str(home), **extra_env}

    def run(*args, stdin: bytes | None = None, cwd=None, binary: bool = False):
        res = subprocess.run([DOCKER, *args], env=env, capture_output=True, timeout=120, check=False,
                             input=stdin, cwd=cwd)
        return res.returncode, res.stdout if binary else res.stdout.decode(), res.stderr.decode()
    return run


def _raw(sock, data: bytes) -> tuple[int, dict, bytes]:
    """One request on a fresh connection: (status, headers, body)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(sock))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


