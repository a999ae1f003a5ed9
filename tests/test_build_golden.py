"""Builds checked against BuildKit: tests/golden/build/<case>/{context/, expected.json[, args]}.

expected.json is what ../shared/tools/reference_tree.py reports for BuildKit's build of the
same context (docker.io's dockerd, DOCKER_BUILDKIT=1): the flattened tree (type, mode,
owner, size, content; not mtimes) and the config fields a Dockerfile sets. The test builds
with cairn, saves a docker-archive and reads it with the same tool. With --update-golden
and a Docker engine here, expected.json is rebuilt from BuildKit; review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import CONFORMANCE, GOLDEN, cairn_cli, case_dirs_with, imported_store
from .dockerd import docker_engine  # noqa: F401 - fixture

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")
CASES = case_dirs_with(GOLDEN / "build", "context/Dockerfile")
TOOL = CONFORMANCE.parent / "tools" / "reference_tree.py"


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "goldenstore")


def _args(case) -> list[str]:
    path = case / "args"
    if not path.exists():
        return []
    return [a for line in path.read_text().splitlines() if line.strip() for a in ("--build-arg", line.strip())]


def _tree(archive) -> dict:
    out = subprocess.run([sys.executable, str(TOOL), "docker", str(archive)], capture_output=True, check=True,
                         timeout=300)
    return json.loads(out.stdout)


def _from_buildkit(case, env, busybox_archive) -> dict:
    subprocess.run(["/usr/bin/docker", "load", "-i", str(busybox_archive)], env=env, check=True,
                   capture_output=True)
    out = subprocess.run([sys.executable, str(TOOL), "buildkit", str(case / "context"), *_args(case)],
                         env=env, capture_output=True, timeout=600)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    return json.loads(out.stdout)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_build_matches_buildkit(case, root, tmp_path, update_golden, request):
    res = cairn_cli("build", "--progress", "quiet", "-t", f"golden-{case.name}:1", *_args(case),
                    str(case / "context"), root=root)
    assert res.returncode == 0, res.stderr.decode()
    archive = tmp_path / "image.tar"
    assert cairn_cli("save", "-o", str(archive), f"golden-{case.name}:1", root=root).returncode == 0
    got = _tree(archive)
    expected_path = case / "expected.json"
    if update_golden:
        env = request.getfixturevalue("docker_engine")
        base = tmp_path / "busybox.tar"
        assert cairn_cli("save", "-o", str(base), "busybox:local", root=root).returncode == 0
        expected = _from_buildkit(case, env, base)
        expected_path.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    expected = json.loads(expected_path.read_text())
    assert got["config"] == expected["config"]
    assert got["tree"] == expected["tree"]
