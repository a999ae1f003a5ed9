"""CAIRN_HOST: a client of `cairn serve` whose command line is long (a 70 kB --build-arg, a long
filter) must get an answer, and must not take the daemon's command runner (the zygote) down
with it: the next client's `cairn images` still runs. (A message over the zygote's read size
was cut short, its JSON failed to parse, and the zygote died: every later command through the
daemon failed with "closed the connection".)"""

from __future__ import annotations

import pytest

from ..conftest import cairn_cli
from ..serve_fixtures import _start, _stop


@pytest.fixture
def daemon(tmp_path):
    root, sock = tmp_path / "root", tmp_path / "cairn.sock"
    proc = _start(root, sock)
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
