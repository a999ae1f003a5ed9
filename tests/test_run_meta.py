"""docker run's process and metadata flags, as docker's documentation writes them:
--env-file, --add-host, --dns*, --ulimit, -l/--label, --label-file, --cidfile, -P,
--stop-signal/--stop-timeout, --init's status after stop, and health checks (--health-*,
the image's HEALTHCHECK, --no-healthcheck; `ps` shows `Up 2 seconds (healthy)`), whose
probe result is driven from the host through a bind-mounted directory."""

from __future__ import annotations

import json
import os
import re
import socket
import time

import pytest

from .conftest import cairn_cli, imported_store, remove_all_containers

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    gen = imported_store(tmp_path_factory, busybox_tar, "runmeta", "EXPOSE 80 7000/udp", "LABEL from=image")
    store_root = next(gen)
    try:
        yield store_root
    finally:
        remove_all_containers(store_root)
        gen.close()


def cli(root, *args, env=None):
    return cairn_cli(*args, root=root, env=env)


def state(root, cid) -> dict:
    return json.loads((root / "containers" / cid / "state.json").read_text())


def ps_line(root, cid) -> str:
    return next(l for l in cli(root, "ps", "-a").stdout.decode().splitlines() if l.startswith(cid[:12]))


def wait_for(predicate, what: str):
    deadline = time.monotonic() + 60  # a bound for a stuck run, not a timing assertion
    while not predicate():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.1)


def test_process_flags_reach_the_container(root, tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text("# settings\nGREETING=hello world\n  QUOTED=\"kept\"\nFROM_HOST\nUNSET_ON_HOST\n\n"
                        "OVERRIDDEN=file\n")
    res = cli(root, "run", "--rm", "--network", "none", "--env-file", str(env_file), "-e", "OVERRIDDEN=flag",
              "--add-host", "db.local:10.1.2.3", "--add-host", "gw:host-gateway", "--dns", "9.9.9.9",
              "--dns-search", "corp.example", "--dns-option", "ndots:2", "--ulimit", "nofile=1024:2048",
              "busybox:local", "sh", "-c", "env; cat /etc/hosts /etc/resolv.conf; ulimit -Sn; ulimit -Hn",
              env={"FROM_HOST": "from the host"})
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode().splitlines()
    assert {"GREETING=hello world", 'QUOTED="kept"', "FROM_HOST=from the host", "OVERRIDDEN=flag"} <= set(out)
    assert not any(l.startswith(("UNSET_ON_HOST", "OVERRIDDEN=file")) for l in out)
    assert "10.1.2.3\tdb.local" in out and "10.89.0.1\tgw" in out  # the test bridge's gateway
    assert "nameserver 9.9.9.9" in out and "search corp.example" in out and "options ndots:2" in out
    assert not any(l.startswith("nameserver") and l != "nameserver 9.9.9.9" for l in out)
    assert out[-2:] == ["1024", "2048"]


def test_labels_cidfile_publish_all_and_stop_signal(root, tmp_path):
    labels = tmp_path / "labels"
    labels.write_text("# team labels\ncom.example.team=web\ncom.example.tier=front\n")
    cidfile = tmp_path / "web.cid"
    res = cli(root, "run", "-d", "--name", "web", "-l", "com.example.tier=back", "--label", "solo",
              "--label-file", str(labels), "--cidfile", str(cidfile), "-P", "--stop-signal", "SIGUSR1",
              "--stop-timeout", "30", "busybox:local", "sh", "-c",
              "trap 'exit 7' USR1; nc -l -p 80 -e echo pong & while true; do sleep 0.1; done")
    assert res.returncode == 0, res.stderr
    cid = res.stdout.decode().strip()
    assert cidfile.read_text() == cid
    st = state(root, cid)
    assert st["labels"] == {"from": "image", "com.example.team": "web", "com.example.tier": "back", "solo": ""}
    ports = {(p["container_port"], p["protocol"]): p for p in st["ports"]}
    assert set(ports) == {(80, "tcp"), (7000, "udp")}
    assert all(p["host_ip"] == "0.0.0.0" and p["host_port"] > 0 for p in ports.values())
    with socket.create_connection(("127.0.0.1", ports[80, "tcp"]["host_port"]), timeout=30) as conn:
        conn.settimeout(30)
        assert conn.recv(16) in (b"pong\n", b"")  # the proxy accepted; busybox nc may lack -e
    tcp = ports[80, "tcp"]["host_port"]
    assert f"80/tcp -> 0.0.0.0:{tcp}" in cli(root, "port", "web").stdout.decode().splitlines()
    assert cli(root, "port", "web", "80").stdout.decode() == f"0.0.0.0:{tcp}\n"
    assert cli(root, "port", "web", "81").returncode == 1
    again = cli(root, "run", "--cidfile", str(cidfile), "busybox:local", "true")
    assert again.returncode == 125 and b"Container ID file found" in again.stderr
    assert cli(root, "stop", "web").returncode == 0  # SIGUSR1, as --stop-signal said
    assert "Exited (7)" in ps_line(root, cid)


def test_init_reports_the_signal_after_stop(root):
    cid = cli(root, "run", "-d", "--init", "--network", "none", "busybox:local", "sleep", "100").stdout.decode().strip()
    assert cli(root, "stop", cid).returncode == 0
    assert "Exited (143)" in ps_line(root, cid)


def test_stop_timeout_is_used_by_stop(root):
    cid = cli(root, "run", "-d", "--stop-timeout", "0", "--network", "none", "busybox:local", "sh", "-c",
              "trap '' TERM; while true; do sleep 0.1; done").stdout.decode().strip()
    assert cli(root, "stop", cid).returncode == 0  # no -t: the container's 0 s, then SIGKILL
    assert "Exited (137)" in ps_line(root, cid)


def health_of(root, cid) -> dict:
    return state(root, cid).get("health") or {}


def test_health_cmd_turns_healthy_then_unhealthy(root, tmp_path):
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    cid = cli(root, "run", "-d", "--network", "none", "-v", f"{ctl}:/ctl", "--health-cmd", "cat /ctl/ok",
              "--health-interval", "100ms", "--health-retries", "2", "-u", "nobody", "busybox:local",
              "sleep", "100").stdout.decode().strip()
    assert len(cid) == 64
    assert health_of(root, cid).get("status") in ("starting", "unhealthy")
    (ctl / "ok").write_text("all good\n")
    wait_for(lambda: "(healthy)" in ps_line(root, cid), "healthy")
    assert re.search(r"  Up [^()]+ \(healthy\)", ps_line(root, cid))  # docker's "Up 2 seconds (healthy)"
    assert health_of(root, cid)["log"][-1]["output"] == "all good\n"
    (ctl / "ok").unlink()
    wait_for(lambda: "(unhealthy)" in ps_line(root, cid), "unhealthy")
    assert health_of(root, cid)["failing_streak"] >= 2
    assert "No such file" in health_of(root, cid)["log"][-1]["output"]


def test_probe_timeout_counts_as_failure(root):
    cid = cli(root, "run", "-d", "--network", "none", "--health-cmd", "sleep 30", "--health-timeout", "200ms",
              "--health-interval", "100ms", "--health-retries", "1", "busybox:local",
              "sleep", "100").stdout.decode().strip()
    wait_for(lambda: health_of(root, cid).get("status") == "unhealthy", "unhealthy")
    assert "exceeded timeout" in health_of(root, cid)["log"][-1]["output"]


def test_image_healthcheck_and_no_healthcheck(root, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:local\n"
                                    "HEALTHCHECK --interval=100ms --retries=1 CMD test -e /ctl/ok\n")
    assert cli(root, "build", "--progress", "quiet", "-t", "checked:1", str(ctx)).returncode == 0
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    (ctl / "ok").write_text("")
    plain = cli(root, "run", "-d", "--network", "none", "--no-healthcheck", "-v", f"{ctl}:/ctl", "checked:1",
                "sleep", "100").stdout.decode().strip()
    cid = cli(root, "run", "-d", "--network", "none", "-v", f"{ctl}:/ctl", "checked:1",
              "sleep", "100").stdout.decode().strip()
    wait_for(lambda: "(healthy)" in ps_line(root, cid), "healthy")
    # started first with the same 100ms checks: it would have been probed by now
    assert health_of(root, plain) == {} and "(health" not in ps_line(root, plain)
