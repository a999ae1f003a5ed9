"""`cairn build --iidfile PATH` where PATH is not a regular file: /dev/null, /dev/stdout, a FIFO
(`--iidfile /dev/stdout` is a common habit from docker build). The ID was written to a temp
file beside it and renamed over it: as root, `--iidfile /dev/null` replaced the machine's
/dev/null with a regular file (it did so while this test suite was written). Now such a file is
written into, as docker writes it. The test uses a FIFO in its own directory: the reader gets
the ID and the FIFO is still one (the old code replaced it: the reader got nothing). (No test
writes /dev/stdout or /dev/null themselves: a regression would break the machine's.)"""

from __future__ import annotations

import os
import stat

from .conftest import cairn_cli


def _scratch_context(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nLABEL a=b\n")
    return ctx


def test_an_iidfile_that_is_a_fifo_is_written_into_never_replaced(tmp_path):
    ctx = _scratch_context(tmp_path)
    fifo = tmp_path / "iid"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # (a reader is there: the writer's open does not wait)
    try:
        res = cairn_cli("build", "--progress", "quiet", "--iidfile", str(fifo), str(ctx), root=tmp_path / "root")
        assert res.returncode == 0, res.stderr
        got = os.read(reader, 4096).decode()
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert got == res.stdout.decode().strip() and got.startswith("sha256:"), (got, res.stdout)


def test_a_link_to_a_fifo_is_replaced_never_followed(tmp_path):
    """(only the name given is written into: a link someone left there is replaced, as before)"""
    ctx = _scratch_context(tmp_path)
    fifo = tmp_path / "elsewhere"
    os.mkfifo(fifo)
    (tmp_path / "iid").symlink_to(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        res = cairn_cli("build", "--progress", "quiet", "--iidfile", str(tmp_path / "iid"), str(ctx),
                        root=tmp_path / "root")
        assert res.returncode == 0, res.stderr
        assert os.read(reader, 4096) == b""
    finally:
        os.close(reader)
    assert (tmp_path / "iid").read_text() == res.stdout.decode().strip()

