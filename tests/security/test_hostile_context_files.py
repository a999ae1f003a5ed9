"""The files a build reads from a context before any COPY (the Dockerfile, .dockerignore) are
the context's too: a FIFO or a link to /dev/zero must not hang the build or fill memory, and
a .dockerignore link is resolved inside the context, never read from the host."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import REPO

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


def build(tmp_path: Path, ctx: Path):
    """cairn build; a hang is a failure (the guard is generous: a build here takes a second)."""
    env = {**os.environ, "CAIRN_ROOT": str(tmp_path / "store")}
    try:
        return subprocess.run([sys.executable, "-m", "builder.cli", "build", "--progress", "plain", str(ctx)],
                              cwd=REPO, capture_output=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("the build hung on a file of its context")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_dockerfile_that_is_not_a_file_is_refused(tmp_path, kind):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    if kind == "fifo":
        os.mkfifo(ctx / "Dockerfile")
    else:
        os.symlink("/dev/zero", ctx / "Dockerfile")
    res = build(tmp_path, ctx)
    assert res.returncode in (1, 2) and b"not a regular file" in res.stderr, res.stderr
    assert b"Traceback" not in res.stderr


def test_a_dockerignore_link_is_resolved_inside_the_context(tmp_path):
    outside = tmp_path / "host-ignore"
    outside.write_text("d\n")  # would exclude d, and so fail the COPY, if it were read
    ctx = tmp_path / "ctx"
    (ctx / "d").mkdir(parents=True)
    (ctx / "d" / "f").write_text("f")
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY d /d\n")
    os.symlink(outside, ctx / ".dockerignore")
    res = build(tmp_path, ctx)
    assert res.returncode == 0, res.stderr
    os.remove(ctx / ".dockerignore")
    os.mkfifo(ctx / ".dockerignore")
    res = build(tmp_path, ctx)
    assert res.returncode in (0, 1, 2) and b"Traceback" not in res.stderr, res.stderr
