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
    (["-q", "me/web"], ["{web}", "{web}"]),  # one ID per name, as docker prints them
    (["--no-trunc", "-q", "me/web:1"], ["{web_full}"]),
    (["--format", "{{.Tag}} {{.Digest}}", "me/web:1"], ["1 {web_digest}"]),
    (["--digests", "--format", "table {{.Tag}}", "me/web:1"], ["TAG       DIGEST", "1         {web_digest}"]),
    (["--format", "table {{.Repository}}\\t{{.Tag}}", "me/web"],
     ["REPOSITORY   TAG", "me/web       1", "me/web       latest"]),
    (["--format", "{{.ID}} {{.CreatedSince}}", "me/web:1"], ["{web} 3 years ago"]),
]


def _manifest_digest(root, ref):
    return json.loads(cairn("inspect", ref, root=root).stdout)[0]["ManifestDigest"]


@pytest.mark.parametrize("args,want", CASES)
def test_docker_command_lines(root, args, want):
    store, ids = root
    subs = {"{old_db}": ids["tier=db v=1"].split(":")[1][:12], "{web}": ids["tier=web"].split(":")[1][:12],
            "{web_full}": ids["tier=web"], "{web_digest}": _manifest_digest(store, "me/web:1")}

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
    assert list(doc) == ["Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize",
                         "Size", "Tag", "UniqueSize", "VirtualSize"]  # docker's, in its (sorted) order
    assert doc | {"CreatedAt": "", "Size": "", "VirtualSize": ""} == {
        "Containers": "N/A", "CreatedAt": "", "CreatedSince": "3 years ago", "Digest": "<none>",
        "ID": ids["tier=web"].split(":")[1][:12], "Repository": "me/web", "SharedSize": "N/A", "Size": "", "Tag": "1",
        "UniqueSize": "N/A", "VirtualSize": ""}
    assert re.fullmatch(r"2023-11-1[45] \d\d:\d\d:20 [+-]\d{4} \w+", doc["CreatedAt"])
    assert re.fullmatch(r"[\d.]+[kM]B", doc["Size"]) and doc["VirtualSize"] == doc["Size"]
    bad = cairn("images", "--format", "{{.Nope}}", root=store)
    assert bad.returncode == 1 and "can't evaluate field Nope in type *formatter.imageContext" in bad.stderr
    bad = cairn("images", "-f", "bogus=1", root=store)
    assert bad.returncode == 1 and "invalid filter 'bogus'" in bad.stderr
    bad = cairn("images", "-f", "dangling", root=store)
    assert bad.returncode == 2 and "bad format of filter (expected name=value)" in bad.stderr
