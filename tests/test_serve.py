"""`cairn serve` driven by clients nobody here wrote: Debian's docker CLI (DOCKER_HOST=unix://...)
against a store with busybox:local, and raw HTTP requests from an attacker's side (oversized
lines and headers, unknown routes, bad names). Every server is stopped with SIGTERM, also when
a test fails, and must remove its socket."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from .conftest import cairn_cli, remove_all_containers
from .serve_fixtures import DOCKER, _raw, _start, _stop, docker_runner, serving

pytestmark = pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI (docker.io) is not installed")


@pytest.fixture(scope="module")
def served(tmp_path_factory, busybox_tar):
    yield from serving(tmp_path_factory, busybox_tar, "serve")


@pytest.fixture
def docker(served, tmp_path):
    return docker_runner(served[1], tmp_path)


def test_docker_version_and_info_through_the_socket(docker):
    code, out, err = docker("version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}")
    assert code == 0, err
    assert out.split() == ["1.41", "linux"]
    code, out, err = docker("info", "--format", "{{.Images}} {{.OSType}} {{.Swarm.LocalNodeState}}")
    assert code == 0, err
    assert out.split() == ["1", "linux", "inactive"]
    code, out, err = docker("info")
    assert code == 0 and "Server Version:" in out, err


def test_docker_images_tag_inspect_history_rmi(docker):
    code, out, err = docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    assert code == 0, err
    assert out.split()[0] == "busybox:local"
    image_id = out.split()[1]
    assert docker("tag", "busybox:local", "me/app:1")[0] == 0
    code, out, err = docker("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert sorted(out.split()) == ["busybox:local", "me/app:1"], err
    code, out, err = docker("inspect", "me/app:1")
    assert code == 0, err
    doc = json.loads(out)[0]
    assert doc["Id"].startswith(f"sha256:{image_id}") and sorted(doc["RepoTags"]) == ["busybox:local", "me/app:1"]
    assert docker("image", "inspect", "--format", "{{.Os}}", "busybox:local")[1].strip() == "linux"
    code, out, err = docker("history", "--format", "{{.ID}} {{.CreatedBy}}", "busybox:local")
    assert code == 0, err
    assert out.splitlines()[0].startswith(image_id)
    # an ID that two names share is refused without -f (409), as docker does
    code, _out, err = docker("rmi", image_id)
    assert code == 1 and "must be forced" in err
    code, out, err = docker("rmi", "me/app:1")
    assert code == 0 and "Untagged: me/app:1" in out, err
    code, out, err = docker("images", "-q")
    assert out.split() == [image_id]
    for args, message in ((("rmi", "nosuch:1"), "No such image: nosuch:1"),
                          (("image", "inspect", "nosuch"), "No such image: nosuch"),
                          (("tag", "busybox:local", "Bad Name"), "invalid reference format"),
                          (("history", "nosuch"), "No such image: nosuch")):
        code, _out, err = docker(*args)
        assert code != 0 and message in err, (args, err)


def test_docker_ps_logs_inspect_rm_on_a_cairn_container(served, docker):
    root, _sock = served
    res = cairn_cli("run", "-d", "--name", "web", "busybox:local", "sh", "-c", "echo out; echo err >&2; sleep 60",
                    root=root)
    try:
        assert res.returncode == 0, res.stderr
        cid = res.stdout.decode().strip()
        code, out, err = docker("ps", "--format", "{{.Names}} {{.ID}} {{.Image}}")
        assert code == 0 and out.split() == ["web", cid[:12], "busybox:local"], err
        assert docker("inspect", "-f", "{{.State.Running}} {{.Name}}", "web")[1].split() == ["true", "/web"]
        for _ in range(200):  # (the log fills as the container runs; not a timing assertion)
            code, out, err = docker("logs", "web")
            if "err" in out + err:
                break
            time.sleep(0.05)
        assert sorted((out + err).split()) == ["err", "out"]
        assert docker("logs", "--tail", "1", "web")[1:] in (("err\n", ""), ("", "err\n"))
        code, _out, err = docker("rm", "web")
        assert code == 1 and "You cannot remove a running container" in err
        code, out, err = docker("rm", "-f", "web")
        assert code == 0 and out.strip() == "web", err
        assert docker("ps", "-aq")[1] == ""
        code, _out, err = docker("logs", "web")
        assert code == 1 and "No such container: web" in err
    finally:
        remove_all_containers(root)


REQUESTS = [  # (request, status, the message's start)
    (b"GET /nope HTTP/1.1\r\n\r\n", 404, "page not found"),
    (b"GET /v1.41/containers/../../etc/passwd HTTP/1.1\r\n\r\n", 404, "page not found"),
    (b"GET /v1.99/_ping HTTP/1.1\r\n\r\n", 400, "client version 1.99 is too new"),
    (b"GET /v1.41/images/nosuch/json HTTP/1.1\r\n\r\n", 404, "No such image: nosuch"),
    (b"GET /images/..%2f..%2fetc/json HTTP/1.1\r\n\r\n", 400, "invalid reference"),
    (b"POST /images/busybox:local/tag?repo=../x HTTP/1.1\r\n\r\n", 400, "invalid reference"),
    (b"DELETE /images/sha256:0000 HTTP/1.1\r\n\r\n", 404, "No such image: sha256:0000"),
    (b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\n\r\n", 414, "request line is longer"),
    (b"GET /_ping HTTP/1.1\r\nX-Big: " + b"b" * 10000 + b"\r\n\r\n", 431, "header line is longer"),
    (b"GET /_ping HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", 431, "request headers too large"),
    (b"not http\r\n\r\n", 400, "malformed request line"),
    (b"GET /_ping SPDY/3\r\n\r\n", 505, "unsupported protocol"),
    (b"GET /_ping HTTP/1.1\r\nno colon\r\n\r\n", 400, "malformed header line"),
]


def test_raw_requests_get_dockers_json_errors(served):
    _root, sock = served
    for request, status, message in REQUESTS:
        got, headers, body = _raw(sock, request)
        assert got == status, (request[:60], got, body)
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body)["message"].startswith(message), (request[:60], body)
    for path in (b"/_ping", b"/v1.41/_ping"):
        for method in (b"GET", b"HEAD"):
            got, headers, body = _raw(sock, method + b" " + path + b" HTTP/1.1\r\n\r\n")
            assert got == 200 and headers["Api-Version"] == "1.41"
            assert body == (b"OK" if method == b"GET" else b"")
    # keep-alive: two requests on one connection, then the server still answers others
    got, _headers, body = _raw(sock, b"GET /_ping HTTP/1.1\r\n\r\nGET /v1.41/version HTTP/1.1\r\n\r\n")
    assert got == 200 and b'"ApiVersion": "1.41"' in body


def test_socket_mode_group_and_sigterm(tmp_path, served):
    root, _sock = served
    sock = tmp_path / "own.sock"
    proc = _start(root, sock, "--group", "1")
    try:
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
        assert (st.st_uid, st.st_gid) == (os.geteuid(), 1)
        # a second server on the same socket is refused; the first keeps serving
        res = cairn_cli("serve", "--host", f"unix://{sock}", root=root)
        assert res.returncode != 0 and b"already listens" in res.stderr
        assert _raw(sock, b"GET /_ping HTTP/1.1\r\n\r\n")[0] == 200
    finally:
        code = _stop(proc)
    assert code == 0 and not sock.exists()


@pytest.mark.parametrize("host, hint", [("tcp://0.0.0.0:2375", "without TLS"),
                                        ("unix://relative.sock", "must be absolute")])
def test_serve_refuses_what_it_cannot_serve(tmp_path, host, hint):
    res = cairn_cli("serve", "--host", host, root=tmp_path)
    assert res.returncode == 2 and hint in res.stderr.decode()


def test_a_file_in_the_sockets_place_is_not_replaced(tmp_path):
    victim = tmp_path / "important"
    victim.write_text("keep me")
    res = cairn_cli("serve", "--host", f"unix://{victim}", root=tmp_path / "r")
    assert res.returncode != 0 and b"not a socket" in res.stderr
    assert victim.read_text() == "keep me"
