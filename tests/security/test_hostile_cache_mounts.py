"""A hostile cache artifact's cache mounts (`--cache-from type=local,src=DIR`, issue 18).

The attacker writes the cache directory a CI job imports: its config lists cache mounts whose
layers try to leave the mount (`..`, a link then a write through it, a hard link to a host
file), carry device nodes and FIFOs, decompress to more than the limit while their record
claims little, lie about their diff_id or about the blob's size, or give owners and modes out
of range. Each is refused whole (a warning; the step starts with an empty cache) or contained
(an absolute name lands inside the mount; no device or FIFO is made), the host's directory is
untouched, and the build goes on. A runner that has its own copy of a mount keeps it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import zstandard

from builder.cache.manifest import CacheFormatError
from builder.cache.mount_records import MountRecord, decode_mounts
from builder.store.cache_mounts import dir_name

from ..conftest import cairn_cli, imported_store
from ..tarmaker import make_tar


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    if os.geteuid() != 0:
        pytest.skip("builds need root")
    yield from imported_store(tmp_path_factory, busybox_tar, "hostile-mounts")


def _put(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def hostile_cache(layout: Path, host: Path) -> list[str]:
    """A cache directory whose mounts attack; returns their ids."""
    (layout / "blobs" / "sha256").mkdir(parents=True)
    cases = {  # id: (tar entries, what the record says instead of the truth)
        "dotdot": ([(f"../../../../../../../..{host}/victim", "file", "pwned")], {}),
        "absolute": ([(f"{host}/victim", "file", "pwned")], {}),
        "link-out": ([("out", "symlink", str(host)), ("out/victim", "file", "pwned")], {}),
        "hardlink-out": ([("h", "hardlink", f"{host}/victim")], {}),
        "devices": ([("null", "chr", (1, 3)), ("fifo", "fifo", None), ("kept", "file", "ok")], {}),
        "bomb": ([("zeros", "file", b"\0" * (3 << 20))], {"size": 1000}),
        "wrong-diff-id": ([("f", "file", "x")], {"diff_id": "sha256:" + "0" * 64}),
        "blob-longer": ([("f", "file", "y")], {"blob_size": 10}),
    }
    mounts = []
    for mount_id, (entries, lies) in cases.items():
        tar = make_tar(entries)
        blob = zstandard.ZstdCompressor().compress(tar)
        layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", **_put(layout, blob)}
        if "blob_size" in lies:
            layer["size"] = lies["blob_size"]
        mounts.append({"id": mount_id, "sharing": "shared", "uid": 0, "gid": 0, "mode": 0o755,
                       "diff_id": lies.get("diff_id", f"sha256:{hashlib.sha256(tar).hexdigest()}"),
                       "size": lies.get("size", len(tar)), "created": 1.0e9, "layer": layer})
    config = json.dumps({"mediaType": "application/vnd.cairn.cache.config.v1+json", "version": 1, "records": [],
                         "cache_mounts": mounts}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "artifactType": "application/vnd.cairn.cache.v1",
                           "config": {"mediaType": "application/vnd.cairn.cache.config.v1+json", **_put(layout, config)},
                           "layers": [m["layer"] for m in mounts]}).encode()
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                **_put(layout, manifest),
                                                "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    (layout / "index.json").write_text(json.dumps(index))
    return list(cases)


def test_hostile_cache_mounts_are_refused_or_contained(root, tmp_path, host):
    layout = tmp_path / "evil-cache"
    ids = hostile_cache(layout, host)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    mounts = " ".join(f"--mount=type=cache,id={i},target=/m/{i}" for i in ids)
    (ctx / "Dockerfile").write_text(f"FROM busybox:local\nARG N=1\nRUN {mounts} ls -lR /m && echo run $N\n")
    source = f"type=local,src={layout},cache-mounts-limit=1m"
    res = cairn_cli("build", "--progress", "plain", "--cache-from", source, str(ctx), root=root)
    out = res.stdout.decode() + res.stderr.decode()
    assert res.returncode == 0, out[-3000:]

    base = Path(root) / "cache-mounts"
    refused = {"dotdot": "contains '..'", "link-out": "passes through a symlink", "hardlink-out": "not in the layer",
               "bomb": "larger than the limit, 1 MiB", "wrong-diff-id": "does not match its diff_id",
               "blob-longer": "larger than its descriptor says"}
    for mount_id, why in refused.items():
        warning = next((line for line in out.splitlines() if f"cache mount '{mount_id}' from" in line), "")
        assert "is not restored, the step starts with an empty cache" in warning and why in warning, (mount_id, out)
        assert os.listdir(base / dir_name(mount_id)) == [], mount_id  # nothing half-written
    absolute = [os.path.join(d, f) for d, _, files in os.walk(base / dir_name("absolute")) for f in files]
    assert [Path(p).read_text() for p in absolute] == ["pwned"]  # inside the mount, not on the host
    assert os.listdir(base / dir_name("devices")) == ["kept"]  # no device node, no FIFO
    assert not os.listdir(Path(root) / "tmp")  # no scratch left behind

    # a runner's own copy is never replaced, and the build says which it kept
    res = cairn_cli("build", "--progress", "plain", "--build-arg", "N=2", "--cache-from", source, str(ctx),
                    root=root)
    out = res.stdout.decode() + res.stderr.decode()
    assert res.returncode == 0 and "cache mount 'devices': kept this runner's copy" in out, out[-3000:]


def test_cache_mounts_false_on_cache_from_restores_none(root, tmp_path, host):
    layout = tmp_path / "cache"
    hostile_cache(layout, host)
    assert cairn_cli("cache", "prune", "--filter", "type=cache-mount", root=root).returncode == 0
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:local\nRUN --mount=type=cache,id=devices,target=/m ls /m\n")
    res = cairn_cli("build", "--progress", "plain", "--cache-from", f"type=local,src={layout},cache-mounts=false",
                    str(ctx), root=root)
    out = res.stdout.decode() + res.stderr.decode()
    assert res.returncode == 0 and "cache mount" not in out, out[-3000:]
    assert os.listdir(Path(root) / "cache-mounts" / dir_name("devices")) == []


@pytest.mark.parametrize("field, value", [
    ("uid", -1), ("gid", 1 << 40), ("mode", 0o200000), ("mode", True), ("size", "big"), ("id", ""),
    ("id", "x" * 5000), ("sharing", "everyone"), ("diff_id", "md5:00"),
    ("layer", {"mediaType": "text/html", "digest": "sha256:" + "a" * 64, "size": 1}),
])
def test_out_of_range_cache_mount_entries_make_the_source_unusable(field, value):
    entry = {"id": "pip", "sharing": "shared", "uid": 0, "gid": 0, "mode": 0o755, "diff_id": "sha256:" + "b" * 64,
             "size": 1, "created": 1.0, "layer": {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
                                                 "digest": "sha256:" + "a" * 64, "size": 1}}
    assert MountRecord.from_json(entry).id == "pip"
    with pytest.raises(CacheFormatError):
        decode_mounts(json.dumps({"cache_mounts": [{**entry, field: value}]}).encode())
    with pytest.raises(CacheFormatError):
        decode_mounts(json.dumps({"cache_mounts": [entry] * 65}).encode())
