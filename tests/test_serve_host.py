"""`cairn serve` as a host: `docker events` (past with --since/--until, live, filtered, a
container's death), TCP with TLS client certificates made here with openssl (the docker CLI's
--tlsverify gets in; a client without a certificate, or with one from another CA, does not),
plain TCP only on loopback and with a warning."""

from __future__ import annotations

import os
import queue
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

from . import registry_server
from .conftest import REPO, cairn_cli, remove_all_containers
from .registry_server import Registry
from .serve_fixtures import DOCKER, _start, _stop, docker_runner, serving

pytestmark = pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI (docker.io) is not installed")


@pytest.fixture(scope="module")
def served(tmp_path_factory, busybox_tar):
    yield from serving(tmp_path_factory, busybox_tar, "serve-host")


def _env(home, host: str) -> dict:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DOCKER_HOST": host,
            "DOCKER_CONFIG": str(home / "docker-config"), "HOME": str(home)}


@pytest.fixture
def docker(served, tmp_path):
    run = docker_runner(served[1], tmp_path)
    run.env = _env(tmp_path, f"unix://{served[1]}")
    run.sock = served[1]
    return run


class _Lines:
    """A live `docker events`: its output lines, read by a thread (the test waits for the lines
    it expects, bounded; the process is killed at the end)."""

    def __init__(self, env, *args):
        self.proc = subprocess.Popen([DOCKER, "events", *args], env=env, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def expect(self, n: int) -> list[str]:
        got = []
        while len(got) < n:
            line = self.lines.get(timeout=60)
            if line is None:
                break
            got.append(line)
        return got

    def close(self):
        self.proc.kill()
        self.proc.wait()


FORMAT = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"


def test_docker_events_past_live_and_filtered(docker, tmp_path):
    since = f"{time.time() - 1:.3f}"
    # (--since: what happens before a listener's request is served reaches it too)
    live = _Lines(docker.env, "--since", since, "--filter", "type=image", "--format", FORMAT)
    untags = _Lines(docker.env, "--since", since, "--filter", "event=untag", "--format", FORMAT)
    try:
        for args in (("tag", "busybox:local", "me/ev:1"), ("tag", "busybox:local", "me/ev:2"), ("rmi", "me/ev:1"),
                     ("rmi", "nosuch:1")):
            docker(*args)
        assert live.expect(3) == ["image tag me/ev:1", "image tag me/ev:2", "image untag me/ev:1"]
        assert untags.expect(1) == ["image untag me/ev:1"]
    finally:
        live.close()
        untags.close()
    until = f"{time.time() + 0.01:.3f}"
    code, out, err = docker("events", "--since", since, "--until", until, "--format", FORMAT)
    assert code == 0, err
    assert out.splitlines() == ["image tag me/ev:1", "image tag me/ev:2", "image untag me/ev:1"]
    # the default format, and an event's image ID
    code, out, err = docker("events", "--since", since, "--until", until, "--filter", "event=tag")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2 and " image tag sha256:" in lines[0] and "(name=me/ev:1)" in lines[0], err
    # an until in the past ends at once; a bad filter is docker's 400
    code, out, _err = docker("events", "--since", "1", "--until", "2")
    assert code == 0 and out == ""
    code, _out, err = docker("events", "--until", until, "--filter", "type=nosuch")
    assert code != 0 and "invalid filter" in err
    assert docker("rmi", "me/ev:2")[0] == 0
    # a classic build's tag, a save: image events too
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:local\nLABEL ev=1\n")
    since = f"{time.time():.3f}"
    code, _out, err = docker_runner(docker.sock, tmp_path, DOCKER_BUILDKIT="0")("build", "-q", "-t", "me/evb:1", str(ctx))
    assert code == 0, err
    assert docker("save", "-o", str(tmp_path / "bb.tar"), "busybox:local")[0] == 0
    code, out, err = docker("events", "--since", since, "--until", f"{time.time() + 0.01:.3f}", "--format", FORMAT)
    assert [line for line in out.splitlines() if "build" not in line] == ["image tag me/evb:1", "image save busybox:local"]


def test_a_container_that_exits_is_a_die_event(served, docker):
    root, _sock = served
    live = _Lines(docker.env, "--since", f"{time.time() - 1:.3f}", "--filter", "type=container", "--filter",
                  "event=die", "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}")
    try:
        res = cairn_cli("run", "-d", "--name", "dies", "busybox:local", "sh", "-c", "exit 3", root=root)
        assert res.returncode == 0, res.stderr
        assert live.expect(1) == ["die dies 3"]
    finally:
        live.close()
        remove_all_containers(root)
    # docker run --rm through the socket: create, start, die, destroy
    since = f"{time.time() - 1:.3f}"
    live = _Lines(docker.env, "--since", since, "--filter", "container=evr", "--format", "{{.Action}}")
    try:
        assert docker("run", "--rm", "--name", "evr", "busybox:local", "true")[0] == 0
        got = live.expect(4)
        assert [a for a in got if a not in ("attach", "resize")][:4] == ["create", "start", "die", "destroy"], got
    finally:
        live.close()
        remove_all_containers(root)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate signed by it, and a
    client certificate from another CA."""
    d = tmp_path_factory.mktemp("certs")
    ext = d / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}-key.pem", "-out",
                 f"{ca}.pem", "-days", "2", "-subj", f"/CN={ca}", cwd=d)
    for name, ca, extfile in (("server", "ca", "server.ext"), ("client", "ca", "client.ext"),
                              ("stranger", "other-ca", "client.ext")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", extfile, cwd=d)
    return d


def _start_tcp(root, port, *extra):
    proc = subprocess.Popen([sys.executable, "-m", "builder.cli", "--root", str(root), "serve",
                             "--host", f"tcp://127.0.0.1:{port}", *extra], cwd=REPO, stderr=subprocess.PIPE)
    lines = []
    for line in proc.stderr:  # (the server says where it listens once it does)
        lines.append(line.decode())
        if "listening on" in lines[-1]:
            return proc, "".join(lines)
    _stop(proc)
    raise AssertionError(f"cairn serve did not start: {''.join(lines)}")


def test_tcp_with_tls_client_certificates(served, certs, tmp_path):
    root, _sock = served
    port = _free_port()
    proc, _said = _start_tcp(root, port, "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
                             "--tlscert", str(certs / "server.pem"), "--tlskey", str(certs / "server-key.pem"))
    try:
        env = _env(tmp_path, f"tcp://127.0.0.1:{port}")

        def docker(*args):
            return subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
        res = docker("--tlsverify", "--tlscacert", str(certs / "ca.pem"), "--tlscert", str(certs / "client.pem"),
                     "--tlskey", str(certs / "client-key.pem"), "images", "--format", "{{.Repository}}:{{.Tag}}")
        assert res.returncode == 0 and "busybox:local" in res.stdout.split(), res.stderr
        # a certificate from another CA is refused, and so is plain HTTP on the TLS port
        res = docker("--tlsverify", "--tlscacert", str(certs / "ca.pem"), "--tlscert", str(certs / "stranger.pem"),
                     "--tlskey", str(certs / "stranger-key.pem"), "images")
        assert res.returncode != 0 and "busybox" not in res.stdout
        assert docker("images").returncode != 0
        # a TLS client without any certificate gets no answer
        client = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        answer = b""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
                    client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /images/json HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = tls.recv(100)  # (TLS 1.3: the refusal comes after the handshake)
        except (ssl.SSLError, OSError):
            answer = b"refused"
        assert answer in (b"", b"refused")
    finally:
        _stop(proc)


def test_tcp_without_tls_only_on_loopback_with_a_warning(served, tmp_path, certs):
    root, _sock = served
    port = _free_port()
    proc, said = _start_tcp(root, port)
    try:
        assert "WARNING" in said and "without TLS" in said
        res = subprocess.run([DOCKER, "version", "--format", "{{.Server.APIVersion}}"], text=True, capture_output=True,
                             env=_env(tmp_path, f"tcp://127.0.0.1:{port}"), timeout=60, check=False)
        assert res.returncode == 0 and res.stdout.strip() == "1.41", res.stderr
    finally:
        _stop(proc)
    for args, hint in ((("--host", "tcp://0.0.0.0:2375"), "without TLS"),
                       (("--host", "tcp://127.0.0.1:2375", "--tlsverify", "--tlscacert", str(certs / "ca.pem")),
                        "--tlsverify needs --tlscert, --tlskey"),
                       (("--host", "tcp://127.0.0.1:2375", "--tlscert", str(certs / "server.pem")), "add --tlsverify"),
                       (("--host", "tcp://127.0.0.1:2375", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
                         "--tlscert", str(certs / "nosuch.pem"), "--tlskey", str(certs / "server-key.pem")),
                        "cannot use the TLS files"),
                       (("--host", "tcp://127.0.0.1"), "tcp://HOST:PORT")):
        res = cairn_cli("serve", *args, root=root)
        assert res.returncode == 2 and hint in res.stderr.decode(), (args, res.stderr)


def test_cairn_commands_through_the_daemon_as_without_it(served, tmp_path):
    """CAIRN_HOST: build (the context read where it is), run (output, stdin, exit code), ps and
    images give what the same command gives without the daemon."""
    root, sock = served
    ctx = tmp_path / "app"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:local\nCOPY a.txt /a.txt\nCMD [\"cat\", \"/a.txt\"]\n")
    (ctx / "a.txt").write_text("hello\n")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "Dockerfile").write_text("FROM busybox:local\nNOSUCH x\n")
    assert cairn_cli("build", "-t", "app:1", str(ctx), root=root).returncode == 0
    daemon = {"CAIRN_HOST": f"unix://{sock}"}
    cases = [("build", "--progress", "plain", "-t", "app:1", str(ctx)),
             ("build", "-t", "bad:1", str(tmp_path / "bad")),
             ("run", "--rm", "app:1"),
             ("run", "--rm", "busybox:local", "sh", "-c", "echo out; echo err >&2; exit 3"),
             ("run", "--rm", "-i", "busybox:local", "sh", "-c", "tr a-z A-Z"),
             ("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"),
             ("ps", "-a", "--format", "{{.Image}} {{.Status}}")]
    try:
        for args in cases:
            here = cairn_cli(*args, root=root, stdin=b"piped\n")
            there = cairn_cli(*args, root=tmp_path / "unused", stdin=b"piped\n", env=daemon)
            assert (there.returncode, there.stdout) == (here.returncode, here.stdout), (args, there.stderr)
            assert there.stderr.replace(b"DONE 0.0s", b"") == here.stderr.replace(b"DONE 0.0s", b""), args
        assert cairn_cli(*cases[3], root=root, env=daemon).returncode == 3
        assert b"NOSUCH" in cairn_cli(*cases[1], root=root, env=daemon).stderr
    finally:
        remove_all_containers(root)
    # what the daemon does not run, or cannot reach, is said with exit 2
    for args, env, hint in ((("--host", f"unix://{sock}", "cache", "prune"), {}, "only build, run, ps, images"),
                            (("ps",), {"CAIRN_HOST": "tcp://192.0.2.1:2376"}, "--tlsverify"),
                            (("--root", str(root), "ps"), daemon, "give one or the other")):
        res = cairn_cli(*args, root=root, env=env)
        assert res.returncode == 2 and hint in res.stderr.decode(), (args, res.stderr)
    res = cairn_cli("ps", root=root, env={"CAIRN_HOST": f"unix://{tmp_path}/nosuch.sock"})
    assert res.returncode == 1 and b"cannot reach the cairn daemon" in res.stderr


def test_a_build_through_the_daemon_takes_the_clients_environment(served, tmp_path):
    """What `cairn build` takes from the environment (a `--build-arg NAME` without a value,
    DOCKER_DEFAULT_PLATFORM) is the client's through CAIRN_HOST, as without the daemon: the
    same image, also when it changes between two builds or is unset on the client (redteam:
    the worker took the daemon's environment, so the client's value was never used, and a
    rebuild after it changed gave the image of before)."""
    root, sock = served
    ctx = tmp_path / "app"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nARG V\nARG W=default\nLABEL v=$V w=$W\nCOPY a.txt /a.txt\n")
    (ctx / "a.txt").write_text("a\n")
    daemon = {"CAIRN_HOST": f"unix://{sock}"}
    args = ("build", "-q", "--label", "--build-arg", "--build-arg", "V", "--build-arg=W", "-t", "envs:1", str(ctx))
    for env in ({"V": "1"}, {"V": "2", "W": "w"}, {"V": "2", "DOCKER_DEFAULT_PLATFORM": "linux/arm64"}, {}):
        here = cairn_cli(*args, root=root, env=env)
        there = cairn_cli(*args, root=tmp_path / "unused", env={**env, **daemon})
        assert here.returncode == 0, here.stderr
        assert (there.returncode, there.stdout) == (0, here.stdout), (env, there.stderr)


def test_a_builds_secrets_from_variables_are_the_clients(served, tmp_path):
    """`--secret id=X` (the variable X when set, else the file X), `id=X,env=Y` and
    `type=env,id=X,src=Y` through CAIRN_HOST read the client's variables, as without the daemon:
    the same secret in the step, or the same refusal when the client lacks one; never the
    daemon's own variable of that name (review: the worker read the daemon's environment, so
    the client's secret was never used, and one the client lacked was the daemon's)."""
    import re

    root, _sock = served
    names = ("CAIRN_T_SA", "CAIRN_T_SB", "CAIRN_T_SC")
    sock = tmp_path / "secrets.sock"
    proc = _start(root, sock, env={name: f"daemon-{name}" for name in names})
    try:
        ctx = tmp_path / "app"
        ctx.mkdir()
        mounts = " ".join(f"--mount=type=secret,id={sid}" for sid in ("CAIRN_T_SA", "b", "c"))
        (ctx / "Dockerfile").write_text(
            f"FROM busybox:local\nRUN {mounts} for s in CAIRN_T_SA b c; do "
            f"echo \"secret-$s=$(sha256sum < /run/secrets/$s | cut -c1-16)\"; done\n")
        args = ("build", "--no-cache", "--progress", "plain", "--secret", "id=CAIRN_T_SA",
                "--secret=id=b,env=CAIRN_T_SB", "--secret", "type=env,id=c,src=CAIRN_T_SC", str(ctx))

        def seen(res) -> tuple:
            return (res.returncode, re.findall(rb"secret-\w+=[0-9a-f]{16}", res.stderr),
                    [line for line in res.stderr.splitlines() if b"invalid --secret" in line])

        full = {name: f"client-{name}" for name in names}
        for env in (full, {**full, "CAIRN_T_SA": "changed"}, {k: v for k, v in full.items() if k != "CAIRN_T_SA"},
                    {k: v for k, v in full.items() if k != "CAIRN_T_SB"}):
            here = seen(cairn_cli(*args, root=root, env=env))
            there = seen(cairn_cli(*args, root=tmp_path / "unused", env={**env, "CAIRN_HOST": f"unix://{sock}"}))
            assert there == here, env
            assert (here[0], len(here[1])) == ((0, 3) if env.keys() == full.keys() else (2, 0)), (env, here)
    finally:
        _stop(proc)


def test_a_builds_ssh_default_is_the_clients_agent(served, tmp_path):
    """`--ssh default` through CAIRN_HOST is the client's $SSH_AUTH_SOCK, as without the daemon:
    a client without one is refused as here, never given the daemon's agent (review: the
    worker took the daemon's SSH_AUTH_SOCK, and a build of the client reached its keys)."""
    root, _sock = served
    agents = {}
    for who in ("daemon", "client"):  # (listening sockets: --ssh checks that one is there)
        agents[who] = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        agents[who].bind(str(tmp_path / f"{who}.agent"))
        agents[who].listen()
    sock = tmp_path / "ssh.sock"
    proc = _start(root, sock, env={"SSH_AUTH_SOCK": str(tmp_path / "daemon.agent")})
    try:
        ctx = tmp_path / "app"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text("FROM busybox:local\nRUN --mount=type=ssh [ -S \"$SSH_AUTH_SOCK\" ]\n")
        args = ("build", "--no-cache", "-q", "--ssh", "default", str(ctx))
        for agent, code in ((str(tmp_path / "client.agent"), 0), ("", 2)):
            env = {"SSH_AUTH_SOCK": agent}
            here = cairn_cli(*args, root=root, env=env)
            there = cairn_cli(*args, root=tmp_path / "unused", env={**env, "CAIRN_HOST": f"unix://{sock}"})
            assert here.returncode == code, here.stderr
            assert (there.returncode, there.stderr) == (code, here.stderr), agent
    finally:
        _stop(proc)
        for agent in agents.values():
            agent.close()


def _memo_rows(root) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{root}/cairn.db?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM build_memo").fetchone()[0]
    finally:
        conn.close()


def test_the_clients_build_memo_switch_reaches_the_daemon(served, tmp_path):
    """CAIRN_BUILD_MEMO=0 in the client's environment is a build without the whole-build memo
    through CAIRN_HOST too (none recorded after a fully cached rebuild), as without the daemon;
    without it, the memo is recorded (review: the worker ignored the client's switch)."""
    root, sock = served
    daemon = {"CAIRN_HOST": f"unix://{sock}"}
    for memo, grows in (("0", 0), (None, 1)):
        ctx = tmp_path / f"memo-{memo}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM scratch\nLABEL memo={memo}\nCOPY a.txt /a.txt\n")
        (ctx / "a.txt").write_text("a\n")
        env = {**daemon, "CAIRN_BUILD_MEMO": memo} if memo else daemon
        before = _memo_rows(root)
        for _ in range(2):  # (the second, whose every step hits, is the one a memo is recorded for)
            res = cairn_cli("build", "-q", "-t", f"memo:{memo}", str(ctx), root=tmp_path / "unused",
                            env=env if memo else {**env, "CAIRN_BUILD_MEMO": ""})
            assert res.returncode == 0, res.stderr
        assert _memo_rows(root) - before == grows, memo


def test_docker_py_drives_the_socket(served, tmp_path):
    """docker-py (PyPI `docker` 7.x), as a script of a user's would use it."""
    docker_py = pytest.importorskip("docker")
    if not registry_server.available():
        pytest.skip("docker-registry is not installed")
    root, sock = served
    client = docker_py.DockerClient(base_url=f"unix://{sock}", timeout=120)
    try:
        assert client.version()["ApiVersion"] == "1.41"
        image = client.images.get("busybox:local")
        assert "busybox:local" in [tag for i in client.images.list() for tag in i.tags]
        registry = Registry(tmp_path / "registry", "plain")
        try:
            repo = f"{registry.host}/py/bb"
            assert image.tag(repo, "1")
            pushed = client.images.push(repo, tag="1")
            assert '"error"' not in pushed and "digest: sha256:" in pushed, pushed
            client.images.remove(f"{repo}:1")
            assert client.images.pull(repo, tag="1").id == image.id
        finally:
            registry.close()
        app = tmp_path / "app"
        app.mkdir()
        (app / "Dockerfile").write_text("FROM busybox:local\nCOPY greeting /greeting\nCMD [\"cat\", \"/greeting\"]\n")
        (app / "greeting").write_text("hi from py\n")
        built, logs = client.images.build(path=str(app), tag="py/app:1")
        assert "py/app:1" in built.tags and any("Successfully built" in e.get("stream", "") for e in logs)
        assert client.containers.run("py/app:1", remove=True) == b"hi from py\n"
        with pytest.raises(docker_py.errors.ContainerError) as failed:
            client.containers.run("busybox:local", ["sh", "-c", "exit 3"], remove=True)
        assert failed.value.exit_status == 3
        with pytest.raises(docker_py.errors.ImageNotFound):
            client.images.get("nosuch:1")
    finally:
        client.close()
        remove_all_containers(root)


def test_concurrent_requests_and_clients_that_leave(served, docker, tmp_path):
    """Ten `docker run -d` and two builds at once; a build whose client is killed is interrupted
    (its RUN process ends); a killed `docker run -i` leaves the server serving."""
    root, sock = served
    daemon = dict(os.environ, CAIRN_HOST=f"unix://{sock}", CAIRN_ROOT=str(tmp_path / "unused"))
    cairn = [sys.executable, "-m", "builder.cli"]
    contexts = []
    for n in range(2):
        ctx = tmp_path / f"c{n}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM busybox:local\nCOPY f /f{n}\nLABEL n={n}\n")
        (ctx / "f").write_text(f"{n}\n")
        contexts.append(ctx)
    try:
        runs = [subprocess.Popen([DOCKER, "run", "-d", "--name", f"c{n}", "busybox:local", "sleep", "60"],
                                 env=docker.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n in range(10)]
        builds = [subprocess.Popen([*cairn, "build", "-q", "-t", f"conc:{n}", str(ctx)], cwd=REPO, env=daemon,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n, ctx in enumerate(contexts)]
        for proc in runs + builds:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        _code, out, _err = docker("ps", "--format", "{{.Names}}")
        assert sorted(out.split()) == sorted(f"c{n}" for n in range(10))
        assert sorted(docker("images", "--format", "{{.Tag}}", "conc")[1].split()) == ["0", "1"]
        # a build whose client is killed mid-RUN: the RUN's process is interrupted
        slow = tmp_path / "slow"
        slow.mkdir()
        marker = f"cairn-serve-host-{os.getpid()}"
        (slow / "Dockerfile").write_text(f"FROM busybox:local\nRUN echo started; exec sleep 300 # {marker}\n")
        client = subprocess.Popen([*cairn, "build", "--progress", "plain", str(slow)], cwd=REPO, env=daemon,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for line in client.stderr:  # (the RUN has started once its output shows)
            if b"started" in line:
                break
        client.kill()
        client.wait()
        for _ in range(300):  # (the interrupt reaches the RUN; not a timing assertion)
            if not _processes_with(marker):
                break
            time.sleep(0.1)
        assert not _processes_with(marker)
        # a docker run -i whose client is killed mid-attach
        attached = subprocess.Popen([DOCKER, "run", "-i", "--name", "att", "busybox:local", "cat"], env=docker.env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        attached.stdin.write(b"one\n")
        attached.stdin.flush()
        assert attached.stdout.readline() == b"one\n"
        attached.kill()
        attached.wait()
        assert docker("version", "--format", "{{.Server.APIVersion}}")[1].strip() == "1.41"
    finally:
        remove_all_containers(root)


def _processes_with(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def test_sigterm_leaves_running_containers_as_docker_does(served, tmp_path):
    root, _sock = served
    sock = tmp_path / "term.sock"
    proc = _start(root, sock)
    run = docker_runner(sock, tmp_path)
    try:
        code, _out, err = run("run", "-d", "--name", "stays", "busybox:local", "sleep", "60")
        assert code == 0, err
    finally:
        assert _stop(proc) == 0
    try:
        assert not sock.exists()
        res = cairn_cli("ps", "--format", "{{.Names}} {{.Status}}", root=root)
        assert res.stdout.decode().split()[:2] == ["stays", "Up"], res.stderr
        proc = _start(root, sock)  # a new server finds it, and can remove it
        try:
            assert run("ps", "--format", "{{.Names}}")[1].split() == ["stays"]
            assert run("rm", "-f", "stays")[0] == 0
        finally:
            _stop(proc)
    finally:
        remove_all_containers(root)
