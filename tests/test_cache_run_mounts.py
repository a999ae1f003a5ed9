"""A RUN that bind-mounts files is keyed by what it mounts, as BuildKit keys it: a user who
edits a mounted source file gets a RUN that runs again and sees the edit (never the stale
result of the earlier build); an edit the mount cannot show (an ignored file, an unrelated
change in the source stage) keeps the hit."""

from __future__ import annotations

import json
import os

import pytest

from .conftest import cairn_cli, remove_test_bridge

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


@pytest.fixture
def root(tmp_path_factory, busybox_tar):
    store = tmp_path_factory.mktemp("mountcache")
    assert cairn_cli("import", str(busybox_tar), "busybox:local", root=store).returncode == 0
    yield store
    remove_test_bridge()


def build(root, ctx, out) -> tuple[str, str]:
    """(what the RUN saw, "CACHED" or "ran" for the RUN step)."""
    meta = out.parent / (out.name + ".json")
    res = cairn_cli("build", "--metadata-file", str(meta), "-o", f"type=local,dest={out}", str(ctx), root=root)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-3000:]
    [run] = [s for s in json.loads(meta.read_text())["steps"] if s["instruction"].startswith("RUN --mount")]
    return (out / "seen").read_text(), "CACHED" if run["cached"] else "ran"


def test_edit_under_a_bound_context_dir_reruns_the_step(root, tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "app").mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM busybox:local AS b\n"
                                    "RUN --mount=type=bind,source=app,target=/src cat /src/main.txt > /seen\n"
                                    "FROM scratch\nCOPY --from=b /seen /seen\n")
    (ctx / ".dockerignore").write_text("app/*.log\n")
    (ctx / "app" / "main.txt").write_text("v1")
    (ctx / "app" / "debug.log").write_text("one")
    assert build(root, ctx, tmp_path / "o1") == ("v1", "ran")
    assert build(root, ctx, tmp_path / "o2") == ("v1", "CACHED")
    (ctx / "app" / "debug.log").write_text("two")  # ignored: the mount does not show it
    assert build(root, ctx, tmp_path / "o3") == ("v1", "CACHED")
    (ctx / "app" / "main.txt").write_text("v2")  # same size, same second: the content decides
    assert build(root, ctx, tmp_path / "o4") == ("v2", "ran")
    (ctx / "app" / "new.txt").write_text("n")  # a new file in the mounted directory
    assert build(root, ctx, tmp_path / "o5") == ("v2", "ran")


def test_bind_of_a_stage_is_keyed_by_the_mounted_content(root, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:local AS gen\nCOPY data.txt note.txt /in/\n"
                                    "RUN mkdir /out && cp /in/data.txt /out/f\n"
                                    "FROM busybox:local AS use\n"
                                    "RUN --mount=type=bind,from=gen,source=/out,target=/o cat /o/f > /seen\n"
                                    "FROM scratch\nCOPY --from=use /seen /seen\n")
    (ctx / "data.txt").write_text("d1")
    (ctx / "note.txt").write_text("n1")
    assert build(root, ctx, tmp_path / "o1") == ("d1", "ran")
    (ctx / "note.txt").write_text("n2")  # gen's layers change, /out does not
    assert build(root, ctx, tmp_path / "o2") == ("d1", "CACHED")
    (ctx / "data.txt").write_text("d2")
    assert build(root, ctx, tmp_path / "o3") == ("d2", "ran")
