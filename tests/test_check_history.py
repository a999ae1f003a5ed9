"""`cairn check --history N` on a generated git history of a node-style project whose
Dockerfile copies the whole context before `npm ci`: every source edit reruns the install
and the steps after it, and the ranking names CopyContextBeforeInstall as the rule behind
at least 80% of the misses the replay records."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import cairn_cli, imported_store, remove_test_bridge

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

DOCKERFILE = """\
FROM busybox:local
WORKDIR /app
COPY . .
RUN npm() { cat package.json > /deps; }; npm ci
RUN cat src/app.js > /built
RUN echo lint > /lint
RUN echo test > /test
RUN echo size > /size
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "check-history")
    remove_test_bridge()


def git(repo: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True, env=env)


def test_history_ranks_the_rule_behind_the_misses(root, tmp_path):
    repo = tmp_path / "shop"
    (repo / "src").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "Dockerfile").write_text(DOCKERFILE)
    (repo / "package.json").write_text('{"dependencies": {}}\n')
    for i in range(6):  # the first commit, then edits of the sources (one bumps a dependency)
        (repo / "src" / "app.js").write_text(f"console.log({i});\n")
        if i == 3:
            (repo / "package.json").write_text('{"dependencies": {"left-pad": "1.3.0"}}\n')
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"change {i}")
    res = cairn_cli("check", "--history", "6", "--format", "json", str(repo), root=root)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    doc = json.loads(res.stdout)
    assert doc["commits"] == 6 and doc["failed"] == 0 and doc["misses"] == 5 * 6
    assert doc["rules"] == {"CopyContextBeforeInstall": 5 * 5} and doc["unexplained"] == 5
    assert sum(doc["rules"].values()) >= 0.8 * doc["misses"]
    text = cairn_cli("check", "--history", "2", str(repo), root=root)
    assert text.returncode == 0
    assert text.stdout.decode().splitlines()[1].split() == ["CopyContextBeforeInstall", "5"]
    assert cairn_cli("check", "--history", "1", str(repo), root=root).returncode == 2
