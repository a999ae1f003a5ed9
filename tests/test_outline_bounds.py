"""Hostile Dockerfiles against `cairn build --call outline|targets` (no root, no container):
a long chain of stages is planned without recursion, and answers instead of an internal error."""

from __future__ import annotations

import json

from .conftest import cairn_cli


def test_a_long_chain_of_stages_is_outlined(tmp_path):
    """1500 stages, each copying from the one before (deeper than Python's default recursion
    limit): before the planner walked stages iteratively this was 'internal error: RecursionError'."""
    n = 1500
    lines = ["FROM scratch AS s0"] + [f"FROM scratch AS s{i}\nCOPY --from=s{i - 1} / /" for i in range(1, n)]
    (tmp_path / "Dockerfile").write_text("\n".join(lines) + "\n")
    res = cairn_cli("build", "--call", "outline,format=json", str(tmp_path), root=tmp_path / "store")
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert json.loads(res.stdout)["name"] == f"s{n - 1}"
    res = cairn_cli("build", "--call", "targets,format=json", str(tmp_path), root=tmp_path / "store")
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert len(json.loads(res.stdout)["targets"]) == n


def test_a_cycle_in_a_long_chain_is_a_dockerfile_error(tmp_path):
    n = 1500
    lines = ["FROM scratch AS s0\nCOPY --from=s1499 / /"] + [f"FROM scratch AS s{i}\nCOPY --from=s{i - 1} / /"
                                                          for i in range(1, n)]
    (tmp_path / "Dockerfile").write_text("\n".join(lines) + "\n")
    res = cairn_cli("build", "--call", "outline", str(tmp_path), root=tmp_path / "store")
    err = res.stderr.decode()
    assert res.returncode == 2 and "circular dependency between stages" in err and "Traceback" not in err, err[-2000:]
