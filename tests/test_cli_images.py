"""`cairn images` as docker's docs use it: REPOSITORY[:TAG], --filter (dangling, reference,
label, before, since), --format, --digests, --no-trunc, -q, and CREATED as "3 years ago".
No container runs: the images are built from metadata-only Dockerfiles."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import cairn_cli
from .inproc import cairn


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    root = tmp_path_factory.mktemp("imgstore")
    assert cairn_cli("import", str(busybox_tar), "busybox:local", root=root).returncode == 0
    ids = {}
    for name, labels, epoch in (("me/web:1", "tier=web", 1700000000), ("me/db:1", "tier=db v=1", 1710000000),
                                ("me/db:1", "tier=db v=2", 1720000000)):
        ctx = tmp_path_factory.mktemp("ctx")
        (ctx / "Dockerfile").write_text(f"FROM busybox:local\nLABEL {labels}\n")
        tags = ["-t", name] + (["-t", "me/web:latest"] if name == "me/web:1" else [])
        res = cairn_cli("build", "--progress", "quiet", "--build-arg", f"SOURCE_DATE_EPOCH={epoch}", *tags, str(ctx),
                        root=root)
        assert res.returncode == 0, res.stderr
        ids[labels] = res.stdout.decode().strip()
    return root, ids


def images(root, *args):
    res = cairn("images", *args, root=root)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


NAMES = ["--format", "{{.Repository}}:{{.Tag}}"]
CASES = [
    (NAMES, ["me/db:1", "<none>:<none>", "me/web:1", "me/web:latest", "busybox:local"]),  # newest first
    (["me/web", *NAMES], ["me/web:1", "me/web:latest"]),
    (["me/web:1", *NAMES], ["me/web:1"]),
    (["--filter", "reference=me/*", *NAMES], ["me/db:1", "me/web:1", "me/web:latest"]),
    (["--filter", "reference=*:latest", *NAMES], []),  # `*` stops at `/`, as in docker
    (["--filter", "reference=*/*:latest", *NAMES], ["me/web:latest"]),
    (["-f", "dangling=true", "-q"], ["{old_db}"]),
    (["-f", "dangling=false", "-f", "label=tier=db", *NAMES], ["me/db:1"]),
    (["-f", "label=tier=db", *NAMES], ["me/db:1", "<none>:<none>"]),
    (["-f", "label=v", "-f", "label=tier", *NAMES], ["me/db:1", "<none>:<none>"]),
    (["-f", "before=me/db:1", *NAMES], ["<none>:<none>", "me/web:1", "me/web:latest", "busybox:local"]),
    (["-f", "since=me/web:1", *NAMES], ["me/db:1", "<none>:<none>"]),
    (["-q", "me/web"], ["{web}"]),  # one ID per image
    (["--no-trunc", "-q", "me/web"], ["{web_full}"]),
    (["--format", "table {{.Repository}}\\t{{.Tag}}", "me/web"],
     ["REPOSITORY   TAG", "me/web       1", "me/web       latest"]),
    (["--format", "{{.ID}} {{.CreatedSince}}", "me/web:1"], ["{web} 3 years ago"]),
]


@pytest.mark.parametrize("args,want", CASES)
def test_docker_command_lines(root, args, want):
    store, ids = root
    subs = {"{old_db}": ids["tier=db v=1"].split(":")[1][:12], "{web}": ids["tier=web"].split(":")[1][:12],
            "{web_full}": ids["tier=web"]}

    def sub(text):
        for k, v in subs.items():
            text = text.replace(k, v)
        return text
    assert images(store, *args) == [sub(w) for w in want]


def test_default_table_digests_json_and_errors(root):
    store, ids = root
    lines = images(store, "me/web:1")
    assert re.split(r"\s{3,}", lines[0]) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    assert re.split(r"\s{3,}", lines[1])[:4] == ["me/web", "1", ids["tier=web"].split(":")[1][:12], "3 years ago"]
    lines = images(store, "--digests", "me/web:1")
    assert re.split(r"\s{3,}", lines[0])[:4] == ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID"]
    assert re.split(r"\s{3,}", lines[1])[2].startswith("sha256:")
    doc = json.loads(images(store, "--format", "json", "me/web:1")[0])
    assert doc["Repository"] == "me/web" and doc["Tag"] == "1" and doc["CreatedSince"] == "3 years ago"
    bad = cairn("images", "--format", "{{.Nope}}", root=store)
    assert bad.returncode == 1 and "can't evaluate field Nope in type *formatter.imageContext" in bad.stderr
    bad = cairn("images", "-f", "bogus=1", root=store)
    assert bad.returncode == 1 and "invalid filter 'bogus'" in bad.stderr
    bad = cairn("images", "-f", "dangling", root=store)
    assert bad.returncode == 2 and "bad format of filter (expected name=value)" in bad.stderr
