"""CAIRN_HOST=unix:///PATH from a user who is not root but in the socket's group (docker's group):
the daemon ran the user's `cairn build` inside itself, as root, in the user's working directory,
so every path on the command line (the context, -f, --iidfile, -o, --secret src=, a link in the
context's parent) was read and written as root. A member of the group could write into a
directory only root may write to (--iidfile /root-only/x) and build a Dockerfile only root may
read (-f /root-only/Dockerfile), as the old code did here. Now the daemon runs commands inside
itself only for its own user; another user's cairn goes through the Engine API (the context
sent as a tar, --iidfile written by the user's own process), as docker's CLI does: the daemon
never opens a path of the user's. A user outside the group does not reach the socket at all.

The user's side runs in a child that drops to uid/gid 65534 after its imports (the test's
interpreter lives under a directory only root may read) and after a warm-up build as root
through the Engine API (the imports that path needs). No RUN step: no container starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ..conftest import REPO
from ..serve_fixtures import _start, _stop

NOBODY = 65534

_AS_USER = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
uid, gid, groups, host, cwd = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
argv = sys.argv[7:]
os.environ["CAIRN_HOST"] = host
import difflib, tarfile, queue, termios, tty, gettext  # noqa: F401,E401 (click's errors, the tar, the view)
import builder.cli, builder.startup_gc, builder.serve.cli_client
from builder.remote.cli import run_remote
from builder.remote.conn import RemoteError, Tls
try:  # (the imports of the Engine API's path, while this process may still read them)
    run_remote(host, Tls(), ["build", "--progress", "quiet", cwd])
except RemoteError:
    pass
os.setgroups([int(g) for g in groups.split(",") if g])
os.setgid(gid)
os.setuid(uid)
os.chdir(cwd)
sys.stdout.flush()
print("--- as the user", flush=True)
sys.exit(builder.cli._main(argv))
"""


@pytest.fixture
def place(tmp_path):
    """(daemon's host, a context any user reads, a directory only root may read and write)."""
    top = Path(tempfile.mkdtemp(prefix="cairn-users-", dir="/tmp"))
    os.chmod(top, 0o755)
    ctx, secret = top / "ctx", top / "root-only"
    ctx.mkdir(mode=0o755)
    secret.mkdir(mode=0o700)
    (ctx / "Dockerfile").write_text("FROM scratch\nLABEL from=context\n")
    (secret / "Dockerfile").write_text("FROM scratch\nLABEL secret=only-root-reads-this\n")
    for p in (ctx, ctx / "Dockerfile"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    mine = top / "user-owned"
    mine.mkdir(mode=0o755)
    os.chown(mine, NOBODY, NOBODY)
    sock = top / "cairn.sock"
    proc = _start(tmp_path / "root", sock, "--group", str(NOBODY))
    try:
        yield f"unix://{sock}", ctx, secret, tmp_path / "root", mine
    finally:
        _stop(proc)
        shutil.rmtree(top, ignore_errors=True)


def _as_user(host: str, ctx: Path, *argv: str, uid: int = NOBODY, groups=(NOBODY,)):
    res = subprocess.run([sys.executable, "-c", _AS_USER, str(REPO), str(uid), str(uid),
                          ",".join(map(str, groups)), host, str(ctx), *argv],
                         capture_output=True, timeout=300, env={**os.environ, "SOURCE_DATE_EPOCH": "0"})
    out = res.stdout.decode().split("--- as the user\n", 1)
    assert len(out) == 2, (res.stdout, res.stderr)
    return res.returncode, out[1], res.stderr.decode()


def test_a_group_member_cannot_write_where_only_root_may(place):
    host, ctx, secret, _root, _mine = place
    code, out, err = _as_user(host, ctx, "build", "--progress", "plain", "--iidfile", str(secret / "iid"), ".")
    assert not (secret / "iid").exists(), "the daemon wrote the user's --iidfile as root"
    assert code == 1 and "Permission denied" in err and "Traceback" not in err, (code, err)


def test_a_group_member_cannot_build_a_dockerfile_only_root_may_read(place):
    host, ctx, secret, root, _mine = place
    code, out, err = _as_user(host, ctx, "build", "--progress", "plain", "-f", str(secret / "Dockerfile"), ".")
    assert "only-root-reads-this" not in out + err
    assert code != 0 and "Traceback" not in err, (code, out, err)
    labels = subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(root), "images", "--no-trunc",
                             "-q"], cwd=REPO, capture_output=True, timeout=120)
    for image in labels.stdout.decode().split():
        inspect = subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(root), "inspect", image],
                                 cwd=REPO, capture_output=True, timeout=120)
        assert b"only-root-reads-this" not in inspect.stdout, image


def test_a_group_member_still_builds_its_own_context(place):
    host, ctx, _secret, _root, mine = place
    code, out, err = _as_user(host, ctx, "build", "--progress", "plain", "--iidfile", str(mine / "iid"), ".")
    assert code == 0, err
    assert out.strip().startswith("sha256:"), (out, err)
    assert (mine / "iid").read_text() == out.strip()
    assert (mine / "iid").stat().st_uid == NOBODY, "written by the user's own process"


def test_a_user_outside_the_group_is_refused(place):
    host, ctx, _secret, _root, _mine = place
    code, out, err = _as_user(host, ctx, "images", uid=NOBODY - 1, groups=())
    assert code == 1 and "Permission denied" in err and "Traceback" not in err, (code, out, err)
