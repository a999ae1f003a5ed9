"""The monitors of containers made through `cairn serve`, from the user's side: a container
created through the socket has a monitor that is forked warm by the server's zygote (not a
fresh `python -m builder.serve.monitor`), in a session of its own, holding no fd of the server's
but its log; it outlives the server, and a new server starts it (twice: the monitor exec's
itself between runs) as docker's live-restore leaves containers to a restarted dockerd; and a
server whose zygote was killed still makes containers."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from .conftest import imported_store, remove_all_containers
from .serve_fixtures import DOCKER, _start, _stop, docker_runner

pytestmark = pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI (docker.io) is not installed")


def _state(root, cid: str) -> dict:
    return json.loads(Path(root, "containers", cid, "state.json").read_text())


def test_monitor_is_forked_warm_detached_and_outlives_a_server_restart(tmp_path_factory, busybox_tar, tmp_path):
    gen = imported_store(tmp_path_factory, busybox_tar, "serve-monitor")
    root = next(gen)
    sock = tmp_path / "cairn.sock"
    docker = docker_runner(sock, tmp_path)
    proc = _start(root, sock)
    try:
        code, out, err = docker("create", "--name", "mon", "busybox:local", "echo", "hello")
        assert code == 0, err
        cid = out.strip()
        monitor = _state(root, cid)["owner"]
        cmdline = Path(f"/proc/{monitor}/cmdline").read_bytes().split(b"\0")
        assert b"builder.serve.monitor" not in cmdline  # forked from the zygote, not a fresh interpreter
        assert os.getsid(monitor) not in (os.getsid(proc.pid), os.getsid(0))  # a session of its own
        fds = {os.readlink(f"/proc/{monitor}/fd/{fd}") for fd in os.listdir(f"/proc/{monitor}/fd")}
        assert not any("cairn.sock" in f or f.startswith("socket:") for f in fds), fds  # none of the server's
        assert _stop(proc) == 0
        proc = _start(root, sock)  # a new server: the monitor is still there and takes its start
        for _ in range(2):  # the second start runs in the monitor that exec'ed itself after the first
            code, out, err = docker("start", "-a", "mon")
            assert (code, out) == (0, "hello\n"), err
        code, out, err = docker("run", "--rm", "busybox:local", "echo", "after")
        assert (code, out) == (0, "after\n"), err
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        for pid in children:  # the zygote killed: a container is still made (a monitor spawned instead)
            os.kill(int(pid), signal.SIGKILL)
        code, out, err = docker("run", "--rm", "busybox:local", "echo", "without")
        assert (code, out) == (0, "without\n"), err
        assert docker("rm", "mon")[0] == 0
    finally:
        _stop(proc)
        remove_all_containers(root)
        next(gen, None)
