"""`cairn ps` and `cairn logs` as docker's docs use them: ps --format, --filter, -n, -l,
--no-trunc, -s, and the PORTS, CREATED and STATUS columns as docker writes them; logs --tail,
-f (until the container exits, or Ctrl-C). One set of containers for the module."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from datetime import datetime

import pytest

from .conftest import REPO, cairn_cli, imported_store
from .inproc import cairn

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def box(tmp_path_factory, busybox_tar):
    store = imported_store(tmp_path_factory, busybox_tar, "psstore")
    root = next(store)
    port = _free_port()
    ids = {}
    try:
        res = cairn_cli("run", "-d", "--name", "web", "-l", "tier=front", "-p", f"127.0.0.1:{port}:80", "busybox:local",
                        "sleep", "1000", root=root)
        assert res.returncode == 0, res.stderr
        ids["web"] = res.stdout.decode().strip()
        res = cairn_cli("run", "--name", "done", "--network", "none", "busybox:local", "sh", "-c", "exit 3",
                        root=root)
        assert res.returncode == 3, res.stderr
        res = cairn_cli("run", "-d", "--name", "quiet", "--network", "none", "-v", "psdata:/data", "busybox:local",
                        "sleep", "1000", root=root)
        assert res.returncode == 0, res.stderr
        ids["quiet"] = res.stdout.decode().strip()
        yield root, port, ids
    finally:
        for line in cairn_cli("ps", "-aq", root=root).stdout.decode().split():
            cairn_cli("rm", "-f", line, root=root)
        store.close()


def ps(root, *args):
    res = cairn("ps", *args, root=root)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def test_default_table(box):
    root, port, ids = box
    lines = ps(root)
    assert re.split(r"\s{3,}", lines[0]) == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                                             "NAMES"]
    web = next(line for line in lines if line.endswith("web"))
    assert web.startswith(ids["web"][:12] + "   busybox:local   \"sleep 1000\"   ")
    assert f"127.0.0.1:{port}->80/tcp" in web
    assert re.search(r"\s{3}(Less than a second|\d+ seconds?) ago\s{3,}Up (Less than a second|\d+ seconds?)\s{3}", web)
    assert not any(line.endswith("done") for line in lines)
    done = next(line for line in ps(root, "-a") if line.endswith("done"))
    assert re.search(r"\s{3}Exited \(3\) (Less than a second|\d+ seconds?) ago\s{3}", done)


# a docker command line -> the lines it prints (`{web}` stands for the ID)
CASES = [
    (["--format", "{{.Names}}"], ["quiet", "web"]),
    (["-a", "--format", "{{.Names}}: {{.State}}"], ["quiet: running", "done: exited", "web: running"]),
    (["--filter", "status=exited", "--format", "{{.Names}}"], ["done"]),  # status= implies -a
    (["-a", "--filter", "exited=3", "--format", "{{.Names}}"], ["done"]),
    (["-a", "--filter", "exited=0", "--format", "{{.Names}}"], []),
    (["-f", "name=web", "-q"], ["{web}"]),
    (["-f", "name=web", "-q", "--format", "{{.Names}}"], ["{web}"]),  # -q wins, as in docker
    (["-a", "-f", "name=^d", "-f", "status=exited", "--format", "{{.Names}}"], ["done"]),
    (["-f", "id={web}", "--format", "{{.Names}}"], ["web"]),
    (["-f", "label=tier=front", "--format", '{{.Names}} {{.Label "tier"}} {{.Labels}}'], ["web front tier=front"]),
    (["-f", "label=tier", "-f", "label=tier=back", "-q"], []),
    (["-f", "health=none", "--format", "{{.Names}}:{{.HealthStatus}}"], ["quiet:", "web:"]),
    (["-f", "volume=psdata", "--format", "{{.Names}} {{.Mounts}} {{.LocalVolumes}}"], ["quiet psdata 1"]),
    (["-a", "-f", "ancestor=busybox:local", "--format", "{{.Names}}"], ["quiet", "done", "web"]),
    (["-a", "-f", "ancestor=nosuch:image", "-q"], []),
    (["-n", "2", "--format", "{{.Names}}"], ["quiet", "done"]),  # includes all states
    (["-l", "--format", "{{.Names}}"], ["quiet"]),
    (["-f", "name=web", "--format", "{{.Ports}}"], ["127.0.0.1:{port}->80/tcp"]),
    (["-f", "name=web", "--format", "{{.Command}}"], ['"sleep 1000"']),
    (["-f", "name=web", "--no-trunc", "-q"], ["{web_full}"]),
    (["-f", "name=web", "--format", "table {{.Names}}\\t{{.Ports}}"],
     ["NAMES     PORTS", "web       127.0.0.1:{port}->80/tcp"]),
]


@pytest.mark.parametrize("args,want", CASES)
def test_docker_command_lines(box, args, want):
    root, port, ids = box
    subs = {"{web}": ids["web"][:12], "{web_full}": ids["web"], "{port}": str(port)}

    def sub(text):
        for k, v in subs.items():
            text = text.replace(k, v)
        return text
    assert ps(root, *[sub(a) for a in args]) == [sub(w) for w in want]


def test_size_json_and_errors(box):
    root, _port, _ids = box
    sized = ps(root, "-s", "-f", "name=quiet")
    assert sized[0].endswith("SIZE") and re.search(r"B \(virtual [\d.]+[kM]B\)$", sized[1])
    assert re.search(r"\(virtual ", ps(root, "-f", "name=quiet", "--format", "{{.Size}}")[0])  # .Size asks for it
    doc = json.loads(ps(root, "-f", "name=quiet", "--format", "json")[0])
    assert doc["Names"] == "quiet" and doc["State"] == "running" and doc["Status"].startswith("Up ")
    bad = cairn("ps", "--format", "{{.Nope}}", root=root)
    assert bad.returncode == 1
    assert ("template parsing error: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope"
            in bad.stderr)
    bad = cairn("ps", "-f", "bogus=1", root=root)
    assert bad.returncode == 1 and "invalid filter 'bogus'" in bad.stderr
    bad = cairn("ps", "-f", "status=sleeping", root=root)
    assert bad.returncode == 1 and "invalid filter 'status=sleeping'" in bad.stderr


def _logs_follow(root, name):
    return subprocess.Popen([sys.executable, "-m", "builder.cli", "logs", "-f", name], cwd=REPO,
                            env={**os.environ, "CAIRN_ROOT": str(root)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _read_until(proc, text: bytes) -> bytes:
    seen = b""
    while text not in seen:
        chunk = proc.stdout.read1(4096)
        assert chunk, (seen, proc.stderr.read())
        seen += chunk
    return seen


def test_logs_tail_and_follow(box):
    root, _port, _ids = box
    res = cairn_cli("run", "-d", "--name", "chatty", "--network", "none", "busybox:local", "sh", "-c",
                    "trap 'echo bye; exit 0' TERM; seq 1 5; while true; do sleep 0.05; done", root=root)
    assert res.returncode == 0, res.stderr
    follower = _logs_follow(root, "chatty")  # docker logs -f: everything so far, then what comes
    interrupted = None
    try:
        assert _read_until(follower, b"5\n") == b"1\n2\n3\n4\n5\n"
        interrupted = _logs_follow(root, "chatty")
        _read_until(interrupted, b"5\n")
        interrupted.send_signal(signal.SIGINT)  # Ctrl-C
        assert interrupted.wait(timeout=30) == 130 and b"Traceback" not in interrupted.stderr.read()
        interrupted.stdout.close()
        interrupted.stderr.close()
        for args, want in ((["--tail", "2"], b"4\n5\n"), (["-n", "0"], b""), (["--tail", "all"], b"1\n2\n3\n4\n5\n")):
            assert cairn_cli("logs", *args, "chatty", root=root).stdout == want
        timed = cairn_cli("logs", "--timestamps", "chatty", root=root).stdout.decode().splitlines()
        stamps = [re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z (\d)", line) for line in timed]
        assert all(stamps) and [m.group(3) for m in stamps] == ["1", "2", "3", "4", "5"], timed
        assert [m.group(1, 2) for m in stamps] == sorted(m.group(1, 2) for m in stamps)
        fifth = datetime.strptime(stamps[-1].group(1) + "+0000", "%Y-%m-%dT%H:%M:%S%z").timestamp()
        after_fifth = f"{fifth + int(stamps[-1].group(2)) / 1e9 + 0.000002:.6f}"
        assert cairn_cli("stop", "chatty", root=root).returncode == 0
        rest, _ = follower.communicate(timeout=30)  # -f ends when the container exits
        assert follower.returncode == 0 and rest == b"bye\n"
    finally:
        for proc in (follower, interrupted):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert cairn_cli("logs", "--tail", "1", "chatty", root=root).stdout == b"bye\n"
    assert cairn_cli("logs", "-f", "--tail", "2", "chatty", root=root).stdout == b"5\nbye\n"  # exited: no wait
    assert cairn_cli("logs", "--since", after_fifth, "chatty", root=root).stdout == b"bye\n"
    assert cairn_cli("logs", "--since", "10m", "--tail", "2", "chatty", root=root).stdout == b"5\nbye\n"
    assert re.fullmatch(rb"\S+Z bye\n", cairn_cli("logs", "-t", "-n", "1", "-f", "chatty", root=root).stdout)
    bad = cairn("logs", "--since", "yesterday", "chatty", root=root)
    assert bad.returncode == 2 and "invalid value for --since" in bad.stderr
