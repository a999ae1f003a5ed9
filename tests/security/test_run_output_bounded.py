"""A RUN step that prints without a newline (`yes | tr -d '\\n'`): cairn build must read its
output in bounded pieces (it read the pipe a byte at a time into one line that grew with all
the step printed, and carried that line into every progress form), so the log shows it in
pieces of at most 64 KiB."""

from __future__ import annotations

import json
import os

import pytest

from ..conftest import cairn_cli, imported_store

LOG_PIECE = 1 << 16
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="RUN steps need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "run-output")


def test_a_line_without_end_is_logged_in_bounded_pieces(root, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUN yes | tr -d '\\n' | head -c 3000000\n")
    res = cairn_cli("build", "--progress", "json", str(tmp_path), root=root)
    assert res.returncode == 0, res.stderr[-2000:]
    logs = [json.loads(line)["text"] for line in res.stderr.splitlines() if line.startswith(b"{")
            and json.loads(line)["type"] == "log"]
    assert sum(t.count("y") for t in logs) >= 3_000_000  # all of it
    assert max(len(t) for t in logs) <= LOG_PIECE
