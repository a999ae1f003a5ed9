"""SOURCE_DATE_EPOCH (BuildKit's reproducible builds): the same Dockerfile and context give
the same image digest in any store, on any run, cached or not, FROM scratch or a base."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from .conftest import cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

EPOCH = 1_700_000_001
ISO = "2023-11-14T22:13:21Z"


@pytest.fixture(scope="module")
def store_a(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "epoch-a")


@pytest.fixture(scope="module")
def store_b(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "epoch-b")


def build(root, ctx: Path, *args, env=None) -> tuple[str, list[bool]]:
    meta = ctx.parent / f"{ctx.name}-meta.json"
    res = cairn_cli("build", "--progress", "plain", "--metadata-file", str(meta), *args, str(ctx), root=root, env=env)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    doc = json.loads(meta.read_text())
    return doc["containerimage.digest"], [s["cached"] for s in doc["steps"]
                                           if s["instruction"].split()[0] in ("RUN", "COPY", "ADD")]


def config(root, ref: str) -> dict:
    res = cairn_cli("inspect", ref, root=root)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)[0]


def context(tmp_path: Path, name: str, dockerfile: str) -> Path:
    ctx = tmp_path / name
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    (ctx / "hello.txt").write_text("hello\n")  # mtime: now, later than the epoch
    return ctx


def test_from_scratch_is_reproducible(store_a, store_b, tmp_path):
    ctx = context(tmp_path, "scratch", "FROM scratch\nCOPY hello.txt /\nCOPY hello.txt /made/dirs/\n"
                                       "ENV A=1\nCMD [\"/hello\"]\n")
    first, _ = build(store_a, ctx, "-t", "s:a", env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    build(store_b, ctx, "-t", "s:plain")  # a build without the epoch first: its records must not be reused
    second, cached = build(store_b, ctx, "-t", "s:b", "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}")
    assert cached == [False, False]
    again, cached = build(store_b, ctx, "-t", "s:b", "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}")
    assert cached == [True, True]
    fresh, _ = build(store_b, ctx, "--no-cache", env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    assert first == second == again == fresh
    doc = config(store_b, "s:b")
    assert doc["Created"] == ISO and [h["created"] for h in doc["History"]] == [ISO] * 4
    archive = tmp_path / "s.tar"  # the layers' tars written again, without the epoch in the environment
    res = cairn_cli("save", "-o", str(archive), "s:b", root=store_b)
    assert res.returncode == 0, res.stderr
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())[0]
        times = set()
        for name in manifest["Layers"]:
            with tarfile.open(fileobj=tar.extractfile(name)) as layer:
                times |= {m.mtime for m in layer}
    assert max(times) == EPOCH


def test_from_a_base_with_run_is_reproducible(store_a, store_b, tmp_path):
    ctx = context(tmp_path, "base", "FROM busybox:local\nARG SOURCE_DATE_EPOCH\n"
                                    "RUN echo $SOURCE_DATE_EPOCH > /epoch && mkdir -p /out && touch /out/x\n"
                                    "COPY hello.txt /out/\n")
    first, _ = build(store_a, ctx, "-t", "b:a", env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    second, _ = build(store_b, ctx, "-t", "b:b", "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}")
    fresh, _ = build(store_b, ctx, "--no-cache", "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}")
    assert first == second == fresh
    res = cairn_cli("run", "--rm", "--network", "none", "b:b", "sh", "-c", "cat /epoch; stat -c %Y /out /out/x /out/hello.txt",
                    root=store_b)
    assert res.stdout.decode().split() == [str(EPOCH)] * 4, res.stderr
    assert config(store_b, "b:b")["Created"] == ISO
    history = config(store_b, "b:b")["History"]
    base = config(store_b, "busybox:local")["History"]
    assert history[:len(base)] == base and base[0]["created"] != ISO  # the base's own history is kept
    assert [h["created"] for h in history[len(base):]] == [ISO] * 3


def test_an_invalid_epoch_is_a_clear_error(store_a, tmp_path):
    ctx = context(tmp_path, "bad", "FROM scratch\nCOPY hello.txt /\n")
    res = cairn_cli("build", "--build-arg", "SOURCE_DATE_EPOCH=not-a-timestamp", str(ctx), root=store_a)
    assert res.returncode == 2 and b"invalid SOURCE_DATE_EPOCH: not-a-timestamp" in res.stderr, res.stderr


def _saved_layers(root, ref: str, dest: Path, env=None) -> tuple[list[str], list[dict[str, int]]]:
    """`cairn save` (the layers' tars written again from their snapshots): (the config's
    diff_ids, {path: mtime} per layer); the save fails if a tar is not its diff_id again."""
    res = cairn_cli("save", "-o", str(dest), ref, root=root, env=env)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    with tarfile.open(dest) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())[0]
        diff_ids = json.loads(tar.extractfile(manifest["Config"]).read())["rootfs"]["diff_ids"]
        layers = []
        for name in manifest["Layers"]:
            with tarfile.open(fileobj=tar.extractfile(name)) as layer:
                layers.append({m.name: m.mtime for m in layer})
    return diff_ids, layers


def test_a_layer_is_written_again_with_its_own_epoch_whatever_the_environment(store_a, tmp_path):
    """A RUN that deletes a file leaves a whiteout, whose time is the build's epoch. Saving
    the image later, with another SOURCE_DATE_EPOCH in the environment or none, must give
    the same layer bytes; so must saving an image built without an epoch."""
    ctx = context(tmp_path, "wh", "FROM busybox:local\nRUN touch /gone /kept\nRUN rm /gone\n")
    build(store_a, ctx, "-t", "wh:epoch", "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}")
    build(store_a, ctx, "-t", "wh:plain", "--no-cache")
    for ref in ("wh:epoch", "wh:plain"):
        for n, env in enumerate(({"SOURCE_DATE_EPOCH": "0"}, {"SOURCE_DATE_EPOCH": str(EPOCH + 99)}, None)):
            diff_ids, layers = _saved_layers(store_a, ref, tmp_path / f"{ref[3:]}-{n}.tar", env)
            assert len(diff_ids) == len(layers) == 3
    _, layers = _saved_layers(store_a, "wh:epoch", tmp_path / "again.tar")
    assert layers[2][".wh.gone"] == EPOCH  # the whiteout carries the epoch, as BuildKit writes it
