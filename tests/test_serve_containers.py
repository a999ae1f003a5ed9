"""Containers through `cairn serve`, driven by Debian's docker CLI as its users type it:
docker run (attached: output, exit code, stdin piped with -i, a pty with -t; detached with a
published port), logs -f, exec, top, stop, kill, restart, wait, ps filters, rm -f, prune;
and raw requests from an attacker's side (bodies cairn must refuse, a client that leaves an
attach). Every container is removed when the module ends, also when a test fails."""

from __future__ import annotations

import json
import os
import socket
import urllib.request

import pytest

from .conftest import remove_all_containers
from .serve_fixtures import DOCKER, _raw, docker_runner, serving

pytestmark = pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI (docker.io) is not installed")


@pytest.fixture(scope="module")
def served(tmp_path_factory, busybox_tar):
    for root, sock in serving(tmp_path_factory, busybox_tar, "serve-ctr"):
        try:
            yield root, sock
        finally:
            run = docker_runner(sock, tmp_path_factory.mktemp("cleanup"))
            ids = run("ps", "-aq")[1].split()
            if ids:
                run("rm", "-f", *ids)
            remove_all_containers(root)


@pytest.fixture
def docker(served, tmp_path):
    return docker_runner(served[1], tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_docker_run_attached_output_exit_code_stdin_and_tty(docker):
    code, out, err = docker("run", "--rm", "busybox:local", "sh", "-c", "echo hi; echo oops >&2; echo bye")
    assert (code, out, err) == (0, "hi\nbye\n", "oops\n")
    code, out, err = docker("run", "--rm", "busybox:local", "sh", "-c", "exit 3")
    assert code == 3 and out == "", err
    code, out, err = docker("run", "--rm", "-i", "busybox:local", "sh", "-c", "tr a-z A-Z; echo end",
                            stdin=b"piped through\n")
    assert code == 0 and out == "PIPED THROUGH\nend\n", err
    code, out, err = docker("run", "--rm", "-t", "-e", "WHO=me", "-w", "/tmp", "busybox:local", "sh", "-c",
                            "tty; echo $WHO $(pwd)")
    assert code == 0 and out.replace("\r", "").split("\n")[:2] == ["/dev/pts/0", "me /tmp"], (out, err)
    for rm in (("--rm",), ()):  # a command that is not there: docker's 127 and its reason
        code, _out, err = docker("run", *rm, "busybox:local", "nosuchcmd")
        assert code == 127 and "executable file not found" in err, (rm, err)
    assert docker("ps", "-a", "--format", "{{.Status}}")[1].split()[:2] == ["Exited", "(127)"]
    assert docker("container", "prune", "-f")[0] == 0
    assert docker("ps", "-aq")[1] == ""  # --rm: all gone


def test_docker_run_flags_reach_the_container(docker, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f").write_text("from the host\n")
    script = ("cat /data/f; touch /data/g 2>/dev/null || echo ro-bind; touch /x 2>/dev/null || echo ro-root; "
              "touch /scratch/y && echo tmpfs; id -u; hostname; echo $$; grep CapEff /proc/self/status; "
              "ls /sys/class/net")
    code, out, err = docker("run", "--rm", "-v", f"{tmp_path / 'data'}:/data:ro", "--read-only", "--tmpfs", "/scratch",
                            "-u", "1000", "-h", "box", "--init", "--network", "none", "--cap-drop", "ALL",
                            "--cap-add", "CHOWN", "--entrypoint", "sh", "busybox:local", "-c", script)
    assert code == 0, err
    assert out.split("\n")[:9] == ["from the host", "ro-bind", "ro-root", "tmpfs", "1000", "box", "2",
                                    "CapEff:\t0000000000000000", "lo"], out
    assert docker("create", "--name", "limits", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50",
                  "--label", "a=b", "busybox:local", "true")[0] == 0
    code, out, err = docker("inspect", "-f", "{{.State.Status}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} "
                            "{{.HostConfig.PidsLimit}} {{.Config.Labels.a}}", "limits")
    assert (code, out.split()) == (0, ["created", str(64 << 20), "500000000", "50", "b"]), err
    assert docker("rm", "limits")[0] == 0
    # what create once dropped in silence: an anonymous volume, --dns*, --add-host
    code, out, err = docker("run", "--rm", "-v", "/anon", "--dns", "9.9.9.9", "--dns-search", "corp.example",
                            "--dns-option", "ndots:3", "--add-host", "db:10.1.2.3", "busybox:local", "sh", "-c",
                            "touch /anon/x && grep -c anon /proc/mounts; cat /etc/resolv.conf; grep db /etc/hosts")
    assert code == 0, err
    assert out.split("\n")[0] == "1", out
    for line in ("nameserver 9.9.9.9", "search corp.example", "options ndots:3"):
        assert line in out, out
    assert "10.1.2.3" in out and "db" in out, out


def test_a_bare_env_name_never_reads_the_servers_environment(docker):
    """docker's client resolves `-e NAME` from its own environment and sends NAME alone when it
    has none: the server must not fill it from its own (its secrets, its settings)."""
    assert os.environ.get("CAIRN_BRIDGE")  # (conftest sets it, so the server has it)
    script = "echo ${CAIRN_BRIDGE:-unset}"
    code, out, err = docker("run", "--rm", "-e", "CAIRN_BRIDGE", "busybox:local", "sh", "-c", script)
    assert (code, out) == (0, "unset\n"), err
    assert docker("run", "-d", "--name", "envx", "busybox:local", "sleep", "30")[0] == 0
    code, out, err = docker("exec", "-e", "CAIRN_BRIDGE", "envx", "sh", "-c", script)
    assert (code, out) == (0, "unset\n"), err
    assert docker("rm", "-f", "envx")[0] == 0


def test_docker_run_detached_port_exec_top_stop_restart_kill_wait_rm(docker):
    port = _free_port()
    code, out, err = docker("run", "-d", "--name", "web", "--label", "tier=front", "-p", f"127.0.0.1:{port}:80",
                            "busybox:local", "sh", "-c",
                            "mkdir /www; echo served-by-cairn > /www/index.html; exec httpd -f -p 80 -h /www")
    assert code == 0, err
    cid = out.strip()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=30) as page:
        assert page.read() == b"served-by-cairn\n"
    assert docker("ps", "--format", "{{.Names}} {{.Ports}}")[1].split() == ["web", f"127.0.0.1:{port}->80/tcp"]
    code, out, err = docker("exec", "web", "sh", "-c", "cat /www/index.html; exit 4")
    assert (code, out) == (4, "served-by-cairn\n"), err
    code, out, err = docker("top", "web")
    assert code == 0 and "httpd -f -p 80" in out and out.split()[:2] == ["UID", "PID"], err
    assert docker("stop", "-t", "1", "web")[0] == 0
    assert docker("ps", "-a", "--filter", "status=exited", "--filter", "label=tier=front",
                  "--format", "{{.Names}}")[1].split() == ["web"]
    assert docker("ps", "-q")[1] == ""
    assert docker("restart", "-t", "1", "web")[0] == 0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=30) as page:
        assert page.read() == b"served-by-cairn\n"  # the same container: its files kept
    assert docker("ps", "--filter", f"id={cid[:12]}", "--format", "{{.Names}}")[1].split() == ["web"]
    assert docker("kill", "--signal", "KILL", "web")[0] == 0
    assert docker("wait", "web")[1].strip() == "137"
    code, _out, err = docker("exec", "web", "true")
    assert code != 0 and "is not running" in err
    assert docker("rm", "-f", "web")[0] == 0
    assert docker("ps", "-aq")[1] == ""


def test_docker_logs_follow_ends_with_the_container_and_prune(docker):
    code, out, err = docker("run", "-d", "--name", "counter", "busybox:local", "sh", "-c",
                            "for i in 1 2 3; do echo line$i; sleep 0.2; done; echo warn >&2")
    assert code == 0, err
    code, out, err = docker("logs", "-f", "counter")  # (returns only once the container exits)
    assert (code, out.split(), err) == (0, ["line1", "line2", "line3"], "warn\n")
    code, out, err = docker("logs", "--timestamps", "--tail", "2", "counter")
    assert code == 0 and out.split()[1:] == ["line3"] and out.startswith("20") and err.split()[1:] == ["warn"]
    assert docker("create", "--name", "never", "busybox:local", "true")[0] == 0
    assert sorted(docker("ps", "-a", "--filter", "status=created", "--format", "{{.Names}}")[1].split()) == ["never"]
    code, out, err = docker("container", "prune", "-f")
    assert code == 0 and "Deleted Containers:" in out, err
    assert docker("ps", "-aq")[1] == ""


def test_log_streams_split_what_the_copier_marked(tmp_path):
    from builder.serve.log_streams import Streams

    (tmp_path / "log.stderr").write_text("5 8\n12 14\n")
    streams = Streams(tmp_path)
    assert streams.pieces(0, b"out1 ERRout2ERout3") == [(1, b"out1 "), (2, b"ERR"), (1, b"out2"), (2, b"ER"),
                                                       (1, b"out3")]
    assert streams.pieces(7, b"Rou") == [(2, b"R"), (1, b"ou")]
    (tmp_path / "log.stderr").write_text("5 8\n12 14\n20 ")  # a record being written: not yet counted
    assert streams.pieces(18, b"abcd") == [(1, b"abcd")]


def test_ps_says_how_long_as_docker_does():
    from builder.serve.containers import human_duration

    for seconds, text in ((0.4, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
                          (3599, "59 minutes"), (3600, "About an hour"), (5 * 3600, "5 hours"),
                          (3 * 86400, "3 days"), (20 * 86400, "2 weeks"), (90 * 86400, "3 months"),
                          (800 * 86400, "2 years")):
        assert human_duration(seconds) == text, seconds


def _create(sock, body: dict, name: str = "") -> tuple[int, dict]:
    data = json.dumps(body).encode()
    status, _headers, reply = _raw(sock, b"POST /v1.41/containers/create%s HTTP/1.1\r\nContent-Type: "
                                         b"application/json\r\nContent-Length: %d\r\n\r\n%s"
                                   % (f"?name={name}".encode() if name else b"", len(data), data))
    return status, json.loads(reply)


REFUSED = [  # (create body, status, the message holds)
    ({"Image": "busybox:local", "HostConfig": {"Binds": ["../../etc:/x"]}}, 400, "absolute host path"),
    ({"Image": "busybox:local", "HostConfig": {"Binds": ["/nonexistent-cairn:/x"]}}, 400, "does not exist"),
    ({"Image": "busybox:local", "HostConfig": {"Links": ["db:db"]}}, 400, "--link"),
    ({"Image": "busybox:local", "HostConfig": {"RestartPolicy": {"Name": "always"}}}, 400, "--restart always"),
    ({"Image": "busybox:local", "HostConfig": {"NetworkMode": "container:x"}}, 400, "bridge, host and none"),
    ({"Image": "busybox:local", "Cmd": "not a list"}, 400, "Cmd must be a list"),
    ({"Image": "busybox:local", "Hostname": "a\n10.0.0.1 bank.example"}, 400, "invalid hostname"),
    ({"Image": "busybox:local", "HostConfig": {"DnsOptions": ["ndots:1\nnameserver 6.6.6.6"]}}, 400,
     "invalid DnsOptions"),
    ({"Image": "busybox:local", "HostConfig": {"ExtraHosts": ["bank.example\n10.0.0.1:1.2.3.4"]}}, 400, "add-host"),
    ({"Image": "busybox:local", "HostConfig": {"Dns": ["not-an-ip"]}}, 400, "invalid --dns"),
    ({"Image": "nosuch:1"}, 404, "No such image: nosuch:1"),
]


def test_create_refuses_what_cannot_hold_and_a_left_attach_does_not_wedge(served, docker):
    _root, sock = served
    for body, status, message in REFUSED:
        got, reply = _create(sock, body)
        assert (got, message in reply.get("message", "")) == (status, True), (body, got, reply)
    assert docker("ps", "-aq")[1] == ""  # nothing half made
    assert _create(sock, {"Image": "busybox:local", "Cmd": ["sleep", "30"]}, "dup")[0] == 201
    got, reply = _create(sock, {"Image": "busybox:local"}, "dup")
    assert got == 409 and "already in use" in reply["message"]
    assert docker("start", "dup")[0] == 0
    # a client attaches, then leaves: the server still answers, the container still runs
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(sock))
    s.sendall(b"POST /v1.41/containers/dup/attach?stream=1&stdout=1 HTTP/1.1\r\nConnection: Upgrade\r\n"
              b"Upgrade: tcp\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 101")
    s.close()
    assert _raw(sock, b"GET /_ping HTTP/1.1\r\n\r\n")[0] == 200
    assert docker("inspect", "-f", "{{.State.Running}}", "dup")[1].strip() == "true"
    assert docker("rm", "-f", "dup")[0] == 0
