"""The cairn CLI against a daemon on another machine (CAIRN_HOST=tcp://HOST:PORT with TLS client
certificates, as docker's CLI reaches a remote dockerd): the same command lines give the same
output and exit codes with and without CAIRN_HOST; the context goes as a tar filtered by
.dockerignore here (an ignored secret never reaches the daemon); a client without a
certificate, or with one from another CA, is refused; what cannot work remotely is refused with
exit 2; the unix socket's route that takes a client's working directory is refused over TCP."""

from __future__ import annotations

import json
import os
import ssl

import pytest

from .conftest import cairn_cli, imported_store
from .serve_fixtures import _stop
from .test_serve_host import _free_port, _start_tcp, certs  # noqa: F401 - the module's certificates


@pytest.fixture(scope="module")
def remote(tmp_path_factory, busybox_tar, certs):  # noqa: F811
    """(the daemon's store, the client's environment) for a daemon on tcp://127.0.0.1:PORT with TLS."""
    gen = imported_store(tmp_path_factory, busybox_tar, "remote")
    root = next(gen)
    port = _free_port()
    proc, _said = _start_tcp(root, port, "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
                             "--tlscert", str(certs / "server.pem"), "--tlskey", str(certs / "server-key.pem"))
    client = tmp_path_factory.mktemp("client-certs")
    for src, dst in (("ca.pem", "ca.pem"), ("client.pem", "cert.pem"), ("client-key.pem", "key.pem")):
        (client / dst).write_bytes((certs / src).read_bytes())
    env = {"CAIRN_HOST": f"tcp://127.0.0.1:{port}", "CAIRN_TLS_VERIFY": "1", "CAIRN_CERT_PATH": str(client)}
    try:
        yield root, port, env
    finally:
        remove_containers(root)
        _stop(proc)
        next(gen, None)


def remove_containers(root) -> None:
    ids = cairn_cli("ps", "-aq", root=root).stdout.decode().split()
    if ids:
        cairn_cli("rm", "-f", *ids, root=root)


def _project(tmp_path):
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "Dockerfile").write_text(
        "FROM busybox:local AS base\nCOPY src/ /src/\nRUN cat /src/a.txt > /made.txt\n"
        "FROM busybox:local\nCOPY --from=base /made.txt /made.txt\nCOPY . /ctx/\n"
        "CMD [\"sh\", \"-c\", \"cat /made.txt; ls /ctx | sort | tr '\\\\n' ' '\"]\n")
    (app / "src" / "a.txt").write_text("from a\n")
    (app / "secret.key").write_text("TOP SECRET\n")
    (app / ".dockerignore").write_text("secret.key\n")
    os.symlink("/etc/shadow", app / "link")  # (sent as a link: the daemon's COPY copies the link)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "Dockerfile").write_text("FROM busybox:local\nRUN echo before; echo oops >&2; exit 7\n")
    typo = tmp_path / "typo"
    typo.mkdir()
    (typo / "Dockerfile").write_text("FROM busybox:local\nNOSUCH x\n")
    return app, bad, typo


def _norm(text: bytes) -> bytes:
    """Timings aside (DONE 0.3s), the progress lines are the same."""
    import re

    return re.sub(rb"DONE \d+\.\d+s", b"DONE", text)


def test_the_same_commands_through_a_remote_daemon(remote, tmp_path):
    root, _port, env = remote
    app, bad, typo = _project(tmp_path)
    vol = tmp_path / "daemon-side"  # (-v names the daemon's paths, as docker's -v does)
    vol.mkdir()
    (vol / "f").write_text("on the daemon's machine\n")
    outside = tmp_path / "other.Dockerfile"
    outside.write_text("FROM busybox:local AS one\nARG WHO\nRUN echo \"hi $WHO\" > /who\nFROM one\nRUN false\n")
    for args in (("-t", "app:1", str(app)), ("-f", str(outside), "--build-arg", "WHO=arg", "--target", "one",
                                             "--label", "k=v", str(app))):
        assert cairn_cli("build", *args, root=root).returncode == 0  # (both then say CACHED)
    cases = [("build", "--progress", "plain", "-t", "app:1", str(app)),
             ("build", "--progress", "plain", str(bad)),
             ("build", str(typo)),
             ("run", "--rm", "app:1"),
             ("run", "--rm", "-e", "X=ex", "-w", "/src", "busybox:local", "sh", "-c",
              "pwd; echo $X; echo err >&2; exit 3"),
             ("run", "--rm", "-i", "busybox:local", "sh", "-c", "tr a-z A-Z"),
             ("run", "--rm", "--entrypoint", "sh", "-u", "1:2", "--network", "none", "-v", f"{vol}:/data:ro",
              "busybox:local", "-c", "id -u; id -g; cat /data/f; ls /sys/class/net"),
             ("run", "--rm", "--read-only", "--tmpfs", "/scratch", "--cap-drop", "ALL", "--add-host", "db:10.1.2.3",
              "-l", "a=b", "--privileged", "busybox:local", "sh", "-c",
              "touch /x || echo ro; touch /scratch/y && echo tmpfs; grep -w db /etc/hosts; grep -cw \"$(hostname)\" /etc/hosts; "
                  "grep CapEff /proc/self/status"),  # (the own line, docker's: its hostname is random)
             ("build", "--progress", "plain", "-f", str(outside), "--build-arg", "WHO=arg", "--target", "one",
              "--label", "k=v", "--iidfile", str(tmp_path / "iid"), str(app)),
             ("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"),
             ("images", "--format", "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Size}}", "app"),
             ]
    try:
        for args in cases:
            here = cairn_cli(*args, root=root, stdin=b"piped\n")
            there = cairn_cli(*args, root=tmp_path / "unused", env=env, stdin=b"piped\n")
            assert (there.returncode, there.stdout) == (here.returncode, here.stdout), (args, there.stderr)
            assert _norm(there.stderr) == _norm(here.stderr), args
            assert "--add-host" not in args or b"10.1.2.3\tdb\n1\n" in here.stdout, here.stdout  # (docker's lines)
        # stdin: a Dockerfile (an empty context), a tar context, a Dockerfile for a directory
        import io
        import tarfile

        tarred = io.BytesIO()
        with tarfile.open(fileobj=tarred, mode="w:gz") as tar:
            tar.add(app / "src", "src")
            data = b"FROM busybox:local AS one\nCOPY src /s\nFROM one\nLABEL no=1\n"
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for args, stdin in ((("build", "--progress", "plain", "-"), b"FROM busybox:local\nLABEL from=stdin\n"),
                            (("build", "--progress", "plain", "--target", "one", "-"), tarred.getvalue()),
                            (("build", "--progress", "plain", "-f", "-", str(app)),
                             b"FROM busybox:local\nCOPY src /s\n")):
            cairn_cli(*args, root=root, stdin=stdin)  # (then both say CACHED)
            here = cairn_cli(*args, root=root, stdin=stdin)
            there = cairn_cli(*args, root=tmp_path / "unused", env=env, stdin=stdin)
            assert (there.returncode, there.stdout) == (here.returncode, here.stdout), (args, there.stderr)
            assert _norm(there.stderr) == _norm(here.stderr), args
        said = cairn_cli("run", "--rm", "app:1", root=root, env=env).stdout.decode()
        assert "from a" in said and "secret.key" not in said and "src" in said and "link" in said
        res = cairn_cli(*cases[1], root=root, env=env)
        assert res.returncode == 1 and b"oops" in res.stderr and b"RUN echo before" in res.stderr, res.stderr
        assert b"Dockerfile:2" in cairn_cli(*cases[2], root=root, env=env).stderr
        # run -d, ps and rm: the daemon's container, listed as the local ps lists it
        started = cairn_cli("run", "-d", "--name", "remote-sleeper", "busybox:local", "sleep", "30", root=root, env=env)
        assert started.returncode == 0, started.stderr
        cid = started.stdout.decode().strip()
        assert len(cid) == 64
        for args in (("ps", "--format", "{{.ID}} {{.Image}} {{.Names}} {{.State}}"), ("ps", "-q"),
                     ("ps", "-a", "--filter", "name=remote-sleeper", "--format", "{{.Command}} {{.State}} {{.Ports}}")):
            here = cairn_cli(*args, root=root)
            there = cairn_cli(*args, root=root, env=env)
            assert (there.returncode, there.stdout) == (here.returncode, here.stdout), (args, there.stderr)
        assert cid[:12] in cairn_cli("ps", "-q", root=root, env=env).stdout.decode()
    finally:
        remove_containers(root)


def test_the_context_sent_is_filtered_streamed_and_never_follows_a_link(tmp_path):
    """What the client sends for `cairn build CONTEXT` (all the daemon can ever see): no file
    .dockerignore excludes, a link as a link (never the host file it names), and a large file
    in pieces (the tar is never held whole)."""
    import io
    import tarfile

    from builder.remote.build import context_tar

    app, _bad, _typo = _project(tmp_path)
    (app / "big.bin").write_bytes(b"x" * (24 << 20))
    (app / "sub").mkdir()
    (app / "sub" / "secret.key").write_text("nested, not ignored\n")
    os.symlink("/etc", app / "etc-link")
    (app / ".dockerignore").write_text("secret.key\nDockerfile\n")  # (the Dockerfile is sent all the same)
    chunks = list(context_tar(str(app), str(app / "Dockerfile"), "Dockerfile"))
    assert max(len(c) for c in chunks) < (1 << 20)
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile("big.bin").read() == b"x" * (24 << 20)
    assert "secret.key" not in members and "sub/secret.key" in members
    assert {"Dockerfile", ".dockerignore", "src", "src/a.txt"} <= set(members)
    assert members["link"].issym() and members["link"].linkname == "/etc/shadow"
    assert members["etc-link"].issym() and not any(name.startswith("etc-link/") for name in members)
    assert b"TOP SECRET" not in b"".join(chunks)


def test_certificates_and_refusals(remote, tmp_path, certs):  # noqa: F811
    root, port, env = remote
    host = f"tcp://127.0.0.1:{port}"
    # the flags as docker's CLI writes them
    res = cairn_cli("--host", host, "--tlsverify", "--tlscacert", str(certs / "ca.pem"), "--tlscert",
                    str(certs / "client.pem"), "--tlskey", str(certs / "client-key.pem"), "images", "-q", root=root)
    assert res.returncode == 0 and res.stdout.strip(), res.stderr
    # a certificate from another CA, or none, gets nothing
    for files in ((certs / "stranger.pem", certs / "stranger-key.pem"),):
        res = cairn_cli("--host", host, "--tlsverify", "--tlscacert", str(certs / "ca.pem"), "--tlscert",
                        str(files[0]), "--tlskey", str(files[1]), "images", root=root)
        assert res.returncode != 0 and b"busybox" not in res.stdout
    client = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
                client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /v1.41/images/json HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = tls.recv(100)
    except (ssl.SSLError, OSError):
        answer = b""
    assert answer == b""
    # plain TCP to a daemon elsewhere: refused with a hint; to loopback: a warning
    res = cairn_cli("ps", root=root, env={"CAIRN_HOST": "tcp://192.0.2.1:2376"})
    assert res.returncode == 2 and b"--tlsverify" in res.stderr
    # what cannot work remotely
    for args, hint in ((("build", "-o", "type=local,dest=out", str(tmp_path)), b"--output"),
                       (("build", "--secret", "id=a,src=/etc/passwd", str(tmp_path)), b"--secret"),
                       (("build", "https://example.com/repo.git"), b"context directory"),
                       (("--root", str(root), "ps"), b"give one or the other")):
        res = cairn_cli(*args, root=root, env=env)
        assert res.returncode == 2 and hint in res.stderr, (args, res.stderr)
    # a command the daemon does not take would act on this machine's store: refused, the docker CLI named
    for args in (("rm", "-f", "x"), ("logs", "x"), ("rmi", "busybox:local"), ("prune", "-f")):
        res = cairn_cli(*args, root=root, env=env)
        assert res.returncode == 2 and b"docker -H tcp://" in res.stderr, (args, res.stderr)
    assert cairn_cli("images", "-q", root=root).stdout.strip()  # (nothing was removed here)
    for args in (("parse", "--help"), ("version",)):
        assert cairn_cli(*args, root=root, env=env).returncode == 0, args
    for args in (("--tlsverify", "ps"), ("--host", "unix:///nosuch.sock", "--tlsverify", "ps")):
        res = cairn_cli(*args, root=root)  # (TLS options without a tcp:// daemon)
        assert res.returncode == 2 and b"tcp://" in res.stderr, (args, res.stderr)


def test_the_cli_route_is_refused_over_tcp(remote, tmp_path):
    """POST /cairn/cli runs a command in a client's directory with its passed fds: only on
    the unix socket. Over TCP (even with a good certificate) it is refused, and no command runs."""
    _root, port, env = remote
    certs_dir = env["CAIRN_CERT_PATH"]
    ctx = ssl.create_default_context(cafile=f"{certs_dir}/ca.pem")
    ctx.load_cert_chain(f"{certs_dir}/cert.pem", f"{certs_dir}/key.pem")
    marker = tmp_path / "made-by-the-route"
    body = json.dumps({"argv": ["run", "--rm", "-v", f"{tmp_path}:/out", "busybox:local", "touch", "/out/made-by-the-route"],
                       "cwd": str(tmp_path), "env": {}}).encode()
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"POST /cairn/cli HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Connection: Upgrade\r\nUpgrade: cairn-cli\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        answer = tls.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400") and b"unix socket" in answer, answer
    assert not marker.exists()


def test_ctrl_c_reaches_the_remote_container_as_it_reaches_a_local_one(remote):
    """`cairn run` waiting on a container: Ctrl-C (SIGINT) goes to the container, whose trap
    decides the exit status, with and without the daemon."""
    import signal
    import subprocess
    import sys

    root, _port, env = remote
    script = "trap 'echo got; exit 5' INT; echo ready; sleep 30 & wait"
    for extra in ({"CAIRN_ROOT": str(root)}, env):
        proc = subprocess.Popen([sys.executable, "-m", "builder.cli", "run", "--rm", "busybox:local", "sh", "-c", script],
                                env={**os.environ, **extra}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stdout.readline() == b"ready\n"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert (proc.returncode, out) == (5, b"got\n"), (extra, err)
