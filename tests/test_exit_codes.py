"""docker's exit codes, from the user's side: a table of command line -> expected status.

`docker run` exits with its container's status (128+signal when a signal ended it), 126
when the command is found but cannot be run, 127 when it is not found, and 125 for its
own errors (a bad flag or value, no such image, a name in use). Add a row for every
command whose status a script may test. `{cid}` in a row is the ID file that exists, `{ctx}`
a build context holding CONTEXT's files.
"""

from __future__ import annotations

import os
import shlex

import pytest

from .conftest import cairn_cli, imported_store, remove_all_containers

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

TABLE = [
    # command line (as docker's docs write it, image busybox:local)      expected
    ("run nosuch:img", 125),
    ("run --pull never nosuch:img true", 125),
    ("run --bogus-flag busybox:local true", 125),
    ("run", 125),
    ("run --network none busybox:local nosuchcmd", 127),
    ("run --network none busybox:local /etc/passwd", 126),
    ("run --network none busybox:local sh -c 'exit 3'", 3),
    ("run --network none busybox:local true", 0),
    ("run --init --network none busybox:local sh -c 'kill -TERM $$'", 143),
    ("run --name taken busybox:local true", 125),
    ("run --memory 1k busybox:local true", 125),
    ("run --ulimit nofile=lots busybox:local true", 125),
    ("run --stop-signal SIGNOPE busybox:local true", 125),
    ("run --health-interval 1fortnight busybox:local true", 125),
    ("run --no-healthcheck --health-cmd true busybox:local true", 125),
    ("run --cidfile {cid} busybox:local true", 125),
    ("run --env-file /nonexistent/env busybox:local true", 125),
    ("run --dns not-an-ip busybox:local true", 125),
    ("run --add-host nocolon busybox:local true", 125),
    ("run --read-only --network none busybox:local touch /x", 1),
    ("run --mount type=volume,src=../etc,dst=/x busybox:local true", 125),
    ("run --cap-add NOPE busybox:local true", 125),
    ("run --mount type=bind,src=/tmp,dst=/x,bind-propagation=rshared busybox:local true", 2),
    ("volume rm nosuchvolume", 1),
    ("exec taken true", 0),
    ("exec taken sh -c 'exit 3'", 3),
    ("exec taken nosuchcmd", 127),
    ("exec taken /etc/passwd", 126),
    ("exec -u nosuchuser taken true", 126),
    ("exec nosuchcontainer true", 1),
    ("inspect taken", 0),
    ("inspect nosuchobject", 1),
    ("inspect -f '{{.Nope}}' taken", 1),
    # docker build exits 1 for every failure; cairn keeps 2 for a Dockerfile it refuses before any step
    ("build -q {ctx}", 0),
    ("build -t Upper:1 {ctx}", 1),
    ("build -f {ctx}/failing.Dockerfile {ctx}", 1),
    ("build -f {ctx}/bad-chmod.Dockerfile {ctx}", 2),
    ("build --squash {ctx}", 2),  # docker's flags whose meaning cannot hold here: 2 and a hint
    ("run --gpus all busybox:local true", 2),
    ("ps", 0),
    ("ps -a --filter status=exited", 0),
    ("ps --filter bogus=1", 1),
    ("ps --filter status=nosuch", 1),
    ("images", 0),
    ("images nosuchrepo", 0),
    ("images --filter bogus=x", 1),
]

CONTEXT = {  # {ctx}: a build context with these files
    "Dockerfile": "FROM busybox:local\nRUN true\n",
    "failing.Dockerfile": "FROM busybox:local\nRUN exit 3\n",
    "bad-chmod.Dockerfile": "FROM busybox:local\nRUN true\nCOPY --chmod=abc Dockerfile /\n",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    gen = imported_store(tmp_path_factory, busybox_tar, "exitcodes")
    store_root = next(gen)
    taken = cairn_cli("run", "-d", "--name", "taken", "--network", "none", "busybox:local", "sleep", "60",
                      root=store_root)
    assert taken.returncode == 0, taken.stderr
    try:
        yield store_root
    finally:
        remove_all_containers(store_root)
        gen.close()


@pytest.mark.parametrize("line,expected", TABLE, ids=[row[0] for row in TABLE])
def test_exit_code(root, tmp_path, line, expected):
    cid = tmp_path / "cid"
    cid.write_text("an earlier container\n")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for name, text in CONTEXT.items():
        (ctx / name).write_text(text)
    args = [a.replace("{cid}", str(cid)).replace("{ctx}", str(ctx)) for a in shlex.split(line)]
    res = cairn_cli(*args, root=root)
    assert res.returncode == expected, res.stderr.decode()
    if expected in (125, 126, 127):
        assert b"Traceback" not in res.stderr and res.stderr.strip(), "a failure says why"


def test_duplicate_name_says_it_as_docker(root):
    res = cairn_cli("run", "--name", "taken", "busybox:local", "true", root=root)
    assert res.returncode == 125
    assert b'The container name "/taken" is already in use by container' in res.stderr
