"""The layer cache on a deps-then-src build: which steps hit, as the issue's scenarios ask."""

from __future__ import annotations

import json
import os

import pytest

from .conftest import cairn_cli, remove_test_bridge

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

DOCKERFILE = ("FROM busybox:local\nWORKDIR /app\nCOPY deps.txt .\n"
              "RUN mkdir -p /deps && while read d; do echo \"$d\" > \"/deps/$d\"; done < deps.txt\n"
              "COPY --chmod=644 src/ ./src/\nRUN find src -type f | wc -l > /app/count\n")


@pytest.fixture
def project(tmp_path_factory, busybox_tar):
    root = tmp_path_factory.mktemp("cachestore")
    assert cairn_cli("import", str(busybox_tar), "busybox:local", root=root).returncode == 0
    ctx = tmp_path_factory.mktemp("cachectx")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "deps.txt").write_text("alpha\nbeta\n")
    (ctx / ".dockerignore").write_text("notes.md\n")
    (ctx / "notes.md").write_text("ignored")
    (ctx / "src").mkdir()
    for i in range(5):
        (ctx / "src" / f"m{i}.py").write_text(f"print({i})\n")
    yield root, ctx
    remove_test_bridge()


def explanations(root, ctx) -> list:
    meta = ctx.parent / f"meta-{os.getpid()}.json"
    return [s["explanation"] for s in json.loads(meta.read_text())["steps"]
            if s["instruction"].split()[0] in ("RUN", "COPY", "ADD")]


def hits(root, ctx, *extra) -> list[bool]:
    meta = ctx.parent / f"meta-{os.getpid()}.json"
    res = cairn_cli("build", "--progress", "plain", "--metadata-file", str(meta), *extra, str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    doc = json.loads(meta.read_text())
    steps = [s for s in doc["steps"] if s["instruction"].split()[0] in ("RUN", "COPY", "ADD")]
    assert doc["hits"] == sum(s["cached"] for s in steps) and doc["misses"] == len(steps) - doc["hits"]
    return [s["cached"] for s in steps]


def test_scenarios(project):
    root, ctx = project
    assert hits(root, ctx) == [False, False, False, False]  # cold
    assert hits(root, ctx) == [True, True, True, True]  # nothing changed
    for path in ctx.rglob("*"):  # every file touched
        os.utime(path, (1, 1))
    assert hits(root, ctx) == [True, True, True, True]
    for path in (ctx / "src").iterdir():  # modes changed, but COPY --chmod sets them
        os.chmod(path, 0o600)
    assert hits(root, ctx) == [True, True, True, True]
    (ctx / "src" / "m3.py").write_text("print('changed')\n")  # one source file changed
    assert hits(root, ctx) == [True, True, False, False]
    why = explanations(root, ctx)
    assert why[2] == "files changed: src/m3.py (content)"
    assert why[3] == "an earlier step missed first: Dockerfile:5 COPY --chmod=644 src/ ./src/"
    target = ctx / "src" / "m1.py"  # same size, mtime restored: ctime still changes
    st = os.stat(target)
    target.write_text("print(9)\n")
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert hits(root, ctx) == [True, True, False, False]
    (ctx / "notes.md").write_text("ignored, edited")  # excluded by .dockerignore
    assert hits(root, ctx) == [True, True, True, True]
    (ctx / "Dockerfile").write_text(DOCKERFILE.replace("wc -l >", "wc -l >>"))  # the last instruction
    assert hits(root, ctx) == [True, True, True, False]
    assert explanations(root, ctx)[3] == "the command changed"
    assert hits(root, ctx, "--no-cache") == [False, False, False, False]


def test_all_hits_build_gives_the_same_image(project):
    root, ctx = project
    first = cairn_cli("build", "--progress", "quiet", "-t", "c1", str(ctx), root=root)
    second = cairn_cli("build", "--progress", "quiet", "-t", "c2", str(ctx), root=root)
    assert first.returncode == second.returncode == 0
    a = json.loads(cairn_cli("inspect", "c1", root=root).stdout)[0]
    b = json.loads(cairn_cli("inspect", "c2", root=root).stdout)[0]
    assert a["RootFS"] == b["RootFS"]


def test_build_arg_change_is_explained(project):
    root, ctx = project
    (ctx / "Dockerfile").write_text("FROM busybox:local\nARG V=1\nRUN echo $V > /v\n")
    assert hits(root, ctx) == [False]
    assert hits(root, ctx, "--build-arg", "V=2") == [False]
    assert explanations(root, ctx) == ["env or build args changed: V"]
    assert hits(root, ctx, "--build-arg", "V=1") == [True]


def test_cache_du_ls_prune(project):
    root, ctx = project
    assert hits(root, ctx) == [False, False, False, False]
    du = cairn_cli("cache", "du", root=root).stdout.decode()
    assert "RUN" in du and "COPY" in du and "total" in du
    listing = cairn_cli("cache", "ls", root=root).stdout.decode().splitlines()
    assert listing[0].split()[:2] == ["KEY", "KIND"] and len(listing) == 1 + 5  # 4 steps and WORKDIR
    assert cairn_cli("cache", "prune", "--keep-storage", "lots", root=root).returncode == 2
    assert cairn_cli("cache", "prune", root=root).returncode == 2
    assert cairn_cli("build", "--progress", "quiet", "-t", "kept", str(ctx), root=root).returncode == 0
    res = cairn_cli("cache", "prune", "--all", root=root)
    assert res.returncode == 0 and b"Dropped 5 cache records" in res.stdout
    assert cairn_cli("run", "--rm", "--network", "none", "kept", "cat", "/app/count", root=root).returncode == 0
    assert hits(root, ctx) == [False, False, False, False]
    assert cairn_cli("store", "check", root=root).returncode == 0


def test_no_cache_filter_and_a_lost_layer(project):
    root, ctx = project
    (ctx / "Dockerfile").write_text("FROM busybox:local AS deps\nRUN echo d > /d\nFROM deps\nRUN echo a > /a\n")
    assert hits(root, ctx) == [False, False]
    assert hits(root, ctx, "--no-cache-filter", "deps") == [False, True]
    import shutil

    from builder.store.store import Store

    with Store(root) as store:  # lose the layer behind the first record
        (diff_id,) = [r[0] for r in store.conn.execute(
            "SELECT diff_id FROM cache_records WHERE inputs LIKE '%echo d%'")]
        shutil.rmtree(store.snapshot_path(__import__("builder.image.digest", fromlist=["Digest"]).Digest.parse(diff_id)))
    res = cairn_cli("build", "--progress", "plain", str(ctx), root=root)
    assert res.returncode == 0 and b"is gone; rebuilding" in res.stderr


def test_two_builds_share_a_store_at_once(project):
    import subprocess
    import sys

    from .conftest import REPO

    root, ctx = project
    other = ctx.parent / "other-ctx"
    other.mkdir(exist_ok=True)
    (other / "Dockerfile").write_text("FROM busybox:local\nRUN echo other > /o\nCOPY f /f\n")
    (other / "f").write_text("f")
    env = dict(os.environ, CAIRN_ROOT=str(root))
    procs = [subprocess.Popen([sys.executable, "-m", "builder.cli", "build", "--progress", "quiet", "-t", f"par{i}",
                               str(c)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i, c in enumerate((ctx, other))]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert cairn_cli("store", "check", root=root).returncode == 0
    assert hits(root, other) == [True, True]


def test_a_corrupt_cached_blob_is_rebuilt_with_a_warning(project):
    """A layer held only as a blob (no snapshot) is verified before a hit trusts it."""
    root, ctx = project
    (ctx / "Dockerfile").write_text("FROM busybox:local\nRUN echo blob-only > /b\nRUN cat /b > /c\n")
    assert hits(root, ctx) == [False, False]
    import shutil

    from builder.image.digest import Digest
    from builder.store.materialize import ensure_blob
    from builder.store.store import Store

    with Store(root) as store:
        (diff_id,) = [Digest.parse(r[0]) for r in store.conn.execute(
            "SELECT diff_id FROM cache_records WHERE inputs LIKE '%echo blob-only%'")]
        blob = ensure_blob(store, diff_id, "zstd")
        shutil.rmtree(store.snapshot_path(diff_id))
        with store.transaction() as c:
            c.execute("DELETE FROM snapshots WHERE diff_id=?", (str(diff_id),))
    assert hits(root, ctx) == [True, True]  # the intact blob serves the hit
    with Store(root) as store:
        path = store.blobs.path(blob.digest)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    res = cairn_cli("build", "--progress", "plain", str(ctx), root=root)
    assert res.returncode == 0, res.stderr.decode()
    assert f"its cached layer {diff_id} is corrupt; rebuilding".encode() in res.stderr
    assert hits(root, ctx) == [True, True]
