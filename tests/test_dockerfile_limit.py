"""A Dockerfile is read with a cap (16 MiB, BuildKit's limit): an endless or huge input is
refused with a clear error after reading at most the cap, never read whole first."""

from __future__ import annotations

import os
import threading

import pytest

from builder.commands.common import MAX_DOCKERFILE, read_file_arg
from builder.errors import UsageError

from .conftest import cairn_cli


def test_a_pipe_that_never_ends_is_read_only_up_to_the_cap(tmp_path):
    fifo = tmp_path / "Dockerfile"
    os.mkfifo(fifo)
    written = [0]
    stop = threading.Event()

    def writer():
        chunk = b"# " + b"x" * 65533 + b"\n"
        with open(fifo, "wb") as f:
            try:
                while not stop.is_set() and written[0] < 4 * MAX_DOCKERFILE:
                    f.write(chunk)
                    written[0] += len(chunk)
            except BrokenPipeError:
                pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with pytest.raises(UsageError, match="exceeds maximum allowed size of 16 MiB"):
            read_file_arg(str(fifo))
    finally:
        stop.set()
        thread.join(timeout=60)
    # the reader stopped at the cap: the writer could not push much more than a pipe buffer past it
    assert written[0] < 2 * MAX_DOCKERFILE


def test_oversized_dockerfile_on_stdin_is_a_usage_error(tmp_path):
    res = cairn_cli("build", "-f", "-", str(tmp_path), stdin=b"FROM scratch\n" + b"#" * MAX_DOCKERFILE)
    err = res.stderr.decode()
    assert res.returncode == 2 and "Dockerfile exceeds maximum allowed size" in err and "Traceback" not in err


def test_a_dockerfile_at_the_cap_is_read(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM scratch\n" + b"#" * (MAX_DOCKERFILE - 13))
    assert len(read_file_arg(str(path))) == MAX_DOCKERFILE
