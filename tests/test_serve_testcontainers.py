"""testcontainers-python (PyPI `testcontainers`, in the test extras), a client of the Engine API
nobody here wrote, against `cairn serve`'s socket as a user's test suite would use it: a
container started from an image with a command, waited for by its log line, its logs read
(stdout and stderr apart), its host address asked for, and removed when the block ends."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys

import pytest

from .serve_fixtures import _raw, serving

pytest.importorskip("testcontainers")

SCRIPT = """
import json
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

box = DockerContainer("busybox:local").with_command("sh -c 'echo hello-tc; echo to-err >&2; sleep 300'")
with box.waiting_for(LogMessageWaitStrategy("to-err")) as c:
    out, err = c.get_logs()
    print(json.dumps({"out": out.decode(), "err": err.decode(), "host": c.get_container_host_ip(),
                      "id": c.get_wrapped_container().id}))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory, busybox_tar):
    yield from serving(tmp_path_factory, busybox_tar, "serve-tc")


def test_testcontainers_runs_a_container_and_reads_its_logs(served):
    _root, sock = served
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}",
           "TESTCONTAINERS_RYUK_DISABLED": "true"}  # (its reaper is an image from Docker Hub)
    res = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert (got["out"], got["err"]) == ("hello-tc\n", "to-err\n")
    if os.path.exists("/.dockerenv"):  # inside a container it asks for the gateway of the container's network
        assert ipaddress.ip_address(got["host"]).version == 4, got
    else:
        assert got["host"] == "localhost", got
    status, _headers, body = _raw(sock, b"GET /containers/json?all=1 HTTP/1.1\r\n\r\n")
    assert status == 200 and got["id"] not in body.decode()  # removed at the end of the block
