"""`cairn serve`'s image and build endpoints driven by Debian's docker CLI (DOCKER_HOST=unix://...):
pull and push against the real distribution registry on 127.0.0.1, save | load, image prune,
and the classic builder (DOCKER_BUILDKIT=0 docker build); plus raw requests from an attacker's
side (a context that escapes, a body over its bound, a client that leaves mid-build)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time

import pytest

from . import registry_server
from .conftest import cairn_cli
from .registry_server import PASSWORD, USER, Registry
from .serve_fixtures import DOCKER, _raw, _start, _stop, docker_runner, serving
from .tarmaker import make_tar

pytestmark = [pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI (docker.io) is not installed"),
              pytest.mark.skipif(not registry_server.available(), reason="docker-registry is not installed")]


@pytest.fixture(scope="module")
def served(tmp_path_factory, busybox_tar):
    yield from serving(tmp_path_factory, busybox_tar, "serve-img")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    r = Registry(tmp_path_factory.mktemp("reg-serve"), "plain")
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def docker(served, tmp_path):
    return docker_runner(served[1], tmp_path, DOCKER_BUILDKIT="0")


def test_docker_push_then_pull_through_the_socket(docker, registry):
    name = f"{registry.host}/me/bb:1"
    assert docker("tag", "busybox:local", name)[0] == 0
    code, out, err = docker("push", name)
    assert code == 0, err
    assert f"The push refers to repository [{registry.host}/me/bb]" in out
    assert "Pushed" in out and "1: digest: sha256:" in out
    image_id = docker("images", "-q", "--no-trunc", name)[1].strip()
    code, out, err = docker("rmi", name)
    assert code == 0, err
    code, out, err = docker("pull", name)
    assert code == 0, err
    assert "1: Pulling from me/bb" in out and "Digest: sha256:" in out and out.strip().endswith(name)
    assert docker("images", "-q", "--no-trunc", name)[1].strip() == image_id
    code, out, err = docker("pull", name)
    assert code == 0 and "Image is up to date" in out, err
    # a tag the registry lacks, a name the registry refuses: the error in the stream, exit 1
    code, out, err = docker("pull", f"{registry.host}/me/bb:nosuch")
    assert code == 1 and "nosuch" in err and "Traceback" not in err, err
    code, out, err = docker("push", f"{registry.host}/me/none:1")
    assert code == 1 and "does not exist locally" in err, err


def test_docker_save_load_and_image_prune(served, docker, tmp_path):
    code, out, err = docker("tag", "busybox:local", "keep/me:1")
    assert code == 0, err
    image_id = docker("images", "-q", "--no-trunc", "keep/me:1")[1].strip()
    # docker save -o, and docker save | docker load after the name is gone
    code, _out, err = docker("save", "-o", str(tmp_path / "img.tar"), "keep/me:1")
    assert code == 0, err
    names = subprocess.run(["tar", "-tf", str(tmp_path / "img.tar")], capture_output=True, text=True, check=True).stdout.split()
    assert "manifest.json" in names and f"blobs/sha256/{image_id.removeprefix('sha256:')}" in names
    code, saved, err = docker("save", "keep/me:1", binary=True)
    assert code == 0, err
    assert saved == (tmp_path / "img.tar").read_bytes()
    assert docker("rmi", "keep/me:1")[0] == 0
    code, out, err = docker("load", stdin=saved)
    assert code == 0 and out.strip() == "Loaded image: keep/me:1", err
    assert docker("images", "-q", "--no-trunc", "keep/me:1")[1].strip() == image_id
    code, out, err = docker("load", "-i", str(tmp_path / "img.tar"))
    assert code == 0 and "Loaded image: keep/me:1" in out, err
    for args, message in ((("save", "nosuch:1"), "No such image: nosuch:1"),
                          (("load",), "not a readable tar archive")):
        code, _out, err = docker(*args, stdin=b"garbage" * 100)
        assert code == 1 and message in err, (args, err)
    # image prune -f: only the image without a name goes
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nLABEL dangling=yes\n")
    res = cairn_cli("build", "-q", str(tmp_path), root=served[0])
    assert res.returncode == 0, res.stderr
    code, out, err = docker("image", "prune", "-f")
    assert code == 0 and "deleted: sha256:" in out and "Total reclaimed space" in out, err
    code, out, err = docker("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert "keep/me:1" in out.split() and "<none>:<none>" not in out


DOCKERFILE_ALT = """\
FROM busybox:local AS base
ARG X=0
RUN echo "hello $X" && echo made > /made
COPY a.txt /a.txt
FROM base AS t
LABEL stage=t
RUN cat /a.txt
FROM base
RUN echo never-built
"""


def test_docker_build_classic_builder(docker, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile.alt").write_text(DOCKERFILE_ALT)
    (ctx / "a.txt").write_text("from-the-context\n")
    args = ("build", "-t", "me/built:1", "-t", "me/built:2", "--build-arg", "X=1", "--target", "t",
            "-f", "Dockerfile.alt", "--label", "by=serve", ".")
    code, out, err = docker(*args, cwd=ctx)
    assert code == 0, err + out
    assert "Step 1/8 : FROM busybox:local AS base" in out and "Step 7/8 : RUN cat /a.txt" in out
    assert "Step 8/8 : LABEL by=serve" in out  # (docker adds the --label as a step)
    assert "hello 1" in out and "from-the-context" in out and "never-built" not in out
    built = out.split("Successfully built ")[1].split()[0]
    assert "Successfully tagged me/built:1" in out and "Successfully tagged me/built:2" in out
    code, labels, err = docker("inspect", "-f", "{{json .Config.Labels}}", "me/built:1")
    assert json.loads(labels) == {"stage": "t", "by": "serve"}, err
    assert docker("images", "-q", "me/built:2")[1].strip() == built
    # the second build: every step from the cache
    code, out, err = docker(*args, cwd=ctx)
    assert code == 0, err
    assert out.count(" ---> Using cache") == 6 and "hello 1" not in out  # (ARG and LABELs too, as docker)
    assert out.split("Successfully built ")[1].split()[0] == built
    # a failing RUN: docker's message and the command's exit code; its output was streamed
    (ctx / "Dockerfile").write_text("FROM busybox:local\nRUN echo boom && exit 3\n")
    code, out, err = docker("build", ".", cwd=ctx)
    assert code == 3 and "boom" in out, err
    assert "The command '/bin/sh -c echo boom && exit 3' returned a non-zero code: 3" in err
    # docker build - with a Dockerfile on stdin; -q prints only the ID
    code, out, err = docker("build", "-q", "-", stdin=b"FROM busybox:local\nRUN echo quiet > /q\n")
    assert code == 0 and out.strip().startswith("sha256:") and len(out.split()) == 1, err
    code, out, err = docker("build", "-", stdin=b"FROM busybox:local\nNOPE x\n")
    assert code == 1 and "Dockerfile:2" in err and "NOPE" in err.upper(), err


THREE_STEPS = "FROM busybox:local\nRUN echo hello > /f && echo made-it\nCMD [\"cat\", \"/f\"]\n"
# what dockerd 20.10 printed for the same Dockerfile (DOCKER_BUILDKIT=0 docker build), its IDs
# named in the order they first appear
FIRST_BUILD = """\
Step 1/3 : FROM busybox:local
 ---> <1>
Step 2/3 : RUN echo hello > /f && echo made-it
 ---> Running in <2>
made-it
Removing intermediate container <2>
 ---> <3>
Step 3/3 : CMD ["cat", "/f"]
 ---> Running in <4>
Removing intermediate container <4>
 ---> <5>
Successfully built <5>
Successfully tagged me/three:1
"""
SECOND_BUILD = """\
Step 1/3 : FROM busybox:local
 ---> <1>
Step 2/3 : RUN echo hello > /f && echo made-it
 ---> Using cache
 ---> <3>
Step 3/3 : CMD ["cat", "/f"]
 ---> Using cache
 ---> <5>
Successfully built <5>
Successfully tagged me/three:1
"""
FAILED_BUILD = """\
Step 1/2 : FROM busybox:local
 ---> <1>
Step 2/2 : RUN echo boom && exit 3
 ---> Running in <6>
boom
"""


def _named_ids(out: str, names: dict) -> str:
    """The CLI's output with each 12-hex ID as <n>, n its place among the IDs first seen."""
    out = out[out.find("Step 1/"):]  # (after the CLI's "Sending build context" line)
    return re.sub(r"\b[0-9a-f]{12}\b", lambda m: f"<{names.setdefault(m.group(0), len(names) + 1)}>", out)


def test_classic_build_prints_dockers_lines_in_dockers_order(docker, tmp_path):
    (tmp_path / "Dockerfile").write_text(THREE_STEPS)
    names: dict = {}
    code, out, err = docker("build", "-t", "me/three:1", ".", cwd=tmp_path)
    assert code == 0, err
    assert _named_ids(out, names) == FIRST_BUILD
    code, out, err = docker("build", "-t", "me/three:1", ".", cwd=tmp_path)
    assert code == 0, err
    assert _named_ids(out, names) == SECOND_BUILD
    # the IDs are the base's and the built image's, as docker shows them
    ids = {n: i for i, n in names.items()}
    assert docker("images", "-q", "busybox:local")[1].strip() == ids[1]
    assert docker("images", "-q", "me/three:1")[1].strip() == ids[5]
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUN echo boom && exit 3\n")
    code, out, err = docker("build", ".", cwd=tmp_path)
    assert code == 3 and _named_ids(out, names) == FAILED_BUILD, err
    assert err.strip().splitlines()[-1] == "The command '/bin/sh -c echo boom && exit 3' returned a non-zero code: 3", err


def _build_request(tar: bytes, query: str = "") -> bytes:
    return (f"POST /v1.41/build?{query} HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
            f"Content-Length: {len(tar)}\r\n\r\n").encode() + tar


def _processes_with(marker: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"{pid}: {cmdline}")
    return found


def _start_sleeping_build(sock, marker: str, tag: str) -> socket.socket:
    """A POST /build whose RUN sleeps; returns the connection once the RUN runs."""
    tar = make_tar([("Dockerfile", "file", f"FROM busybox:local\nRUN echo go-$((6+1)); {marker}\n")])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(str(sock))
    s.sendall(_build_request(tar, f"t={tag}"))
    seen = b""
    while b"go-7" not in seen:  # the RUN step is running
        chunk = s.recv(4096)
        assert chunk, seen
        seen += chunk
    for _ in range(200):  # (the shell starts sleep after its echo; not a timing assertion)
        if _processes_with(marker):
            break
        time.sleep(0.05)
    assert _processes_with(marker)
    return s


def _wait_for_no_leftovers(root, marker: str) -> None:
    def leftovers():
        with open("/proc/self/mountinfo") as f:
            mounts = [line for line in f if str(root) in line]
        return (_processes_with(marker) + _processes_with("build --progress json") + mounts
                + [p.name for p in (root / "tmp").iterdir() if "serve-build-" in p.name or "run-" in p.name])
    for _ in range(600):  # (the build stops once the server sees the client gone; not a timing assertion)
        if not leftovers():
            break
        time.sleep(0.05)
    assert leftovers() == []


def test_a_client_that_leaves_mid_build_cancels_it(served, tmp_path):
    root, sock = served
    _start_sleeping_build(sock, "sleep 7301", "never:1").close()
    _wait_for_no_leftovers(root, "sleep 7301")
    got, _headers, body = _raw(sock, b"GET /images/never:1/json HTTP/1.1\r\n\r\n")
    assert got == 404, body  # the cancelled build tagged nothing, and the server still answers
    # a server stopped (SIGTERM) mid-build cancels the build too
    own = tmp_path / "own.sock"
    proc = _start(root, own)
    try:
        conn = _start_sleeping_build(own, "sleep 7302", "never:2")
        assert _stop(proc) == 0
        conn.close()
    finally:
        _stop(proc)
    _wait_for_no_leftovers(root, "sleep 7302")


BUILD_REQUESTS = [  # (query, body, status, the message's start)
    ("networkmode=host", None, 400, "cairn serve: networkmode 'host' is not served"),
    ("buildargs=notjson", None, 400, "invalid buildargs: not JSON"),
    ("t=Bad%20Name", None, 400, "invalid reference"),
    ("remote=https://example.com/x.git", None, 501, "cairn serve: a remote build context"),
    ("version=2", None, 400, "cairn serve: only the classic builder"),
    ("", b"FROM busybox:local\n" * 40, 400, "the build context is not a tar archive"),
    ("dockerfile=../../../../etc/passwd", None, 400, "the build context has no ../../../../etc/passwd"),
    ("dockerfile=/etc/passwd", None, 400, "the build context has no /etc/passwd"),
    ("", make_tar([("../escape", "file", "x"), ("Dockerfile", "file", "FROM scratch\n")]), 400, "the build context"),
    ("", make_tar([("link", "symlink", "/etc"), ("link/escape", "file", "x")]), 400, "the build context"),
]


def test_raw_build_and_load_requests_are_refused_safely(served):
    _root, sock = served
    plain = make_tar([("Dockerfile", "file", "FROM busybox:local\n")])
    for query, body, status, text in BUILD_REQUESTS:
        got, _headers, raw = _raw(sock, _build_request(plain if body is None else body, query))
        assert got == status, (query, raw)
        assert json.loads(raw)["message"].startswith(text), (query, raw)
    assert not os.path.exists("/escape") and not os.path.exists("/etc/escape")
    # a body larger than the bound is refused before it is read
    got, _headers, raw = _raw(sock, b"POST /images/load HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n")
    assert got == 413 and json.loads(raw)["message"].startswith("request body is larger than")
    got, _headers, raw = _raw(sock, b"POST /images/create?fromImage=x&tag=1 HTTP/1.1\r\nX-Registry-Auth: !!\r\n\r\n")
    assert got == 400 and b"X-Registry-Auth" in raw


LOGIN_REQUESTS = [  # (body, status, the message's start)
    (b"[]", 400, "invalid JSON body: not an object"),
    (b'{"username": 5, "serveraddress": "127.0.0.1:1"}', 400, "invalid auth configuration"),
    (b'{"serveraddress": "no such host!"}', 400, "unable to parse server address"),
    (b'{"serveraddress": "127.0.0.1:1"}', 500, "127.0.0.1:1: cannot connect"),
]


def test_push_uses_the_clients_credentials_never_the_servers(served, tmp_path):
    """The server's host has a saved login for the registry (as root after `cairn login`); a
    client that sends none is refused by the registry, one that sends its own pushes, and
    `docker login` checks the client's own password."""
    import base64

    root, _sock = served
    with Registry(tmp_path / "reg", "htpasswd") as reg:
        home = tmp_path / "server-home"
        env = reg.env(home)
        res = cairn_cli("login", "-u", USER, "--password-stdin", reg.host, root=root, env=env,
                        stdin=PASSWORD.encode())
        assert res.returncode == 0, res.stderr
        sock = tmp_path / "auth.sock"
        proc = _start(root, sock, env={**env, "SERVER_ONLY": "server-secret"})
        try:
            docker = docker_runner(sock, tmp_path / "client")
            name = f"{reg.host}/me/secret:1"
            assert docker("tag", "busybox:local", name)[0] == 0
            code, _out, err = docker("push", name)
            assert code == 1 and ("401" in err or "unauthorized" in err.lower()), err
            auth = base64.urlsafe_b64encode(json.dumps({"username": USER, "password": PASSWORD}).encode())
            got, _headers, body = _raw(sock, f"POST /images/{reg.host}/me/secret/push?tag=1 HTTP/1.1\r\n"
                                             f"X-Registry-Auth: {auth.decode()}\r\n\r\n".encode())
            assert got == 200 and b'"aux": {"Tag": "1", "Digest": "sha256:' in body, body
            assert b"errorDetail" not in body
            # a build arg the client's environment lacked (sent as null) is never the server's
            tar = make_tar([("Dockerfile", "file", "FROM busybox:local\nARG SERVER_ONLY\nRUN echo \"v=$SERVER_ONLY.\"\n")])
            got, _headers, body = _raw(sock, _build_request(tar, "buildargs=%7B%22SERVER_ONLY%22%3Anull%7D"))
            assert got == 200 and b"v=." in body and b"server-secret" not in body, body
            # docker login: the client's password checked with the registry (the server's saved
            # login does not make a wrong one pass), kept by the client only; then push with it
            server_config = (home / ".docker" / "config.json").read_bytes()
            code, out, err = docker("login", reg.host, "-u", USER, "--password-stdin", stdin=b"wrong\n")
            assert code == 1 and f"login attempt to https://{reg.host}/v2/ failed with status: 401 Unauthorized" \
                in err, err
            code, out, err = docker("login", reg.host, "-u", USER, "--password-stdin", stdin=PASSWORD.encode() + b"\n")
            assert code == 0 and "Login Succeeded" in out, err
            code, out, err = docker("push", name)
            assert code == 0 and "1: digest: sha256:" in out, err
            assert (home / ".docker" / "config.json").read_bytes() == server_config
            assert not [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
                        and PASSWORD.encode() in p.read_bytes()]
            for body, status, text in LOGIN_REQUESTS:
                got, _headers, raw = _raw(sock, f"POST /v1.41/auth HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n"
                                                .encode() + body)
                assert got == status and json.loads(raw)["message"].startswith(text), (body, raw)
        finally:
            _stop(proc)
