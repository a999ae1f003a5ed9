"""Issue #13, finding 9: a crafted image must not get its blob pushed in place of another
image's layer.

The attacker publishes an image whose config claims the diff_id of a layer the victim
holds (here: the victim's busybox base layer, whose diff_id anyone can compute), over a
gzip blob of the attacker's own files. The victim pulls it (or builds FROM it, or reads
a cache directory the attacker wrote), then pushes its own image with gzip layers: every
pushed layer must still uncompress to the diff_id its config lists. Real distribution
registry on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import urllib.request
from pathlib import Path

import pytest

from .. import registry_server
from ..conftest import cairn_cli, imported_store
from ..registry_server import Registry

needs_registry = pytest.mark.skipif(not registry_server.available(),
                                reason="docker-registry is not installed (tests/setup-system.sh installs it)")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    r = Registry(tmp_path_factory.mktemp("reg-subst"), "plain")
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def victim(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "victim")


def ok(res) -> str:
    assert res.returncode == 0, res.stderr.decode() + res.stdout.decode()
    return res.stdout.decode()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _http(method: str, url: str, data: bytes | None = None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, dict(resp.headers), resp.read()


def _put_blob(registry: Registry, repo: str, data: bytes) -> str:
    digest = _sha(data)
    _, headers, _ = _http("POST", f"http://{registry.host}/v2/{repo}/blobs/uploads/", b"")
    location = headers["Location"]
    if location.startswith("/"):
        location = f"http://{registry.host}{location}"
    sep = "&" if "?" in location else "?"
    _http("PUT", f"{location}{sep}digest={digest}", data, {"Content-Type": "application/octet-stream"})
    return digest


def _get(registry: Registry, repo: str, what: str, name: str, accept: str = OCI_MANIFEST) -> bytes:
    return _http("GET", f"http://{registry.host}/v2/{repo}/{what}/{name}", headers={"Accept": accept})[2]


def evil_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        data = b"attacker's content\n"
        info = tarfile.TarInfo("evil")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def publish_impostor(registry: Registry, repo: str, claimed_diff_id: str) -> str:
    """An image whose config says its one layer is `claimed_diff_id`; returns its layer digest."""
    layer = evil_layer()
    layer_digest = _put_blob(registry, repo, layer)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [claimed_diff_id]}}).encode()
    config_digest = _put_blob(registry, repo, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest,
                    "size": len(layer)}]}).encode()
    _http("PUT", f"http://{registry.host}/v2/{repo}/manifests/1", manifest, {"Content-Type": OCI_MANIFEST})
    return layer_digest


def base_diff_id(root) -> str:
    return json.loads(ok(cairn_cli("inspect", "busybox:local", root=root)))[0]["RootFS"]["Layers"][0]


def assert_pushed_layers_are_what_the_config_says(registry: Registry, repo: str, impostor_blob: str) -> None:
    manifest = json.loads(_get(registry, repo, "manifests", "1"))
    config = json.loads(_get(registry, repo, "blobs", manifest["config"]["digest"]))
    for desc, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
        assert desc["digest"] != impostor_blob, "the attacker's blob was pushed as the victim's layer"
        blob = _get(registry, repo, "blobs", desc["digest"])
        raw = gzip.decompress(blob) if desc["mediaType"].endswith("gzip") else blob
        assert _sha(raw) == diff_id


@needs_registry
def test_a_pulled_impostor_image_cannot_lend_its_blob_to_a_gzip_push(registry, victim):
    impostor = publish_impostor(registry, "attacker/pulled", base_diff_id(victim))
    res = cairn_cli("pull", f"{registry.host}/attacker/pulled:1", root=victim)
    ok(cairn_cli("push", "--compression", "gzip", "busybox:local", f"{registry.host}/victim/pulled:1",
                 root=victim))
    assert_pushed_layers_are_what_the_config_says(registry, "victim/pulled", impostor)

    err = res.stderr.decode()
    assert res.returncode == 1 and "Traceback" not in err, (res.returncode, err)
    assert "does not match its diff_id" in err
    assert f"{registry.host}/attacker/pulled" not in ok(cairn_cli("images", root=victim))


@needs_registry
def test_a_lazily_pulled_impostor_base_is_not_mounted_into_a_push(registry, victim, tmp_path):
    """A build FROM the impostor records its layer as held by the registry (lazily, unread):
    a later push of the victim's own image to that registry must not mount it."""
    impostor = publish_impostor(registry, "attacker/lazy", base_diff_id(victim))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {registry.host}/attacker/lazy:1\nLABEL innocent=yes\n")
    cairn_cli("build", "-t", "uses-impostor", str(ctx), root=victim)  # may fail or not: the push matters
    ok(cairn_cli("push", "--compression", "gzip", "busybox:local", f"{registry.host}/victim/lazy:1",
                 root=victim))
    assert_pushed_layers_are_what_the_config_says(registry, "victim/lazy", impostor)


def test_a_cache_directory_cannot_swap_a_layer_blob(victim, tmp_path_factory, busybox_tar, tmp_path):
    """A --cache-from directory written by someone else names the right diff_id for a step
    but the attacker's blob: the step must run instead of taking that blob."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a.txt").write_text("the real file\n")
    (ctx / "Dockerfile").write_text("FROM busybox:local\nCOPY a.txt /a.txt\n")
    cache = tmp_path / "cache"
    ok(cairn_cli("build", "--cache-to", f"type=local,dest={cache}", str(ctx), root=victim))
    _swap_layers(cache, evil_layer())

    fresh = next(imported_store(tmp_path_factory, busybox_tar, "fresh"))
    out = tmp_path / "out"
    res = cairn_cli("build", "--cache-from", f"type=local,src={cache}", "-o", f"type=local,dest={out}",
                    str(ctx), root=fresh)
    ok(res)
    assert (out / "a.txt").read_text() == "the real file\n"
    assert not (out / "evil").exists()
    assert "does not match its diff_id" in res.stderr.decode()


def _swap_layers(layout: Path, blob: bytes) -> None:
    """Rewrite a local cache so that every record's layer is `blob` (its diff_id unchanged)."""
    blobs = layout / "blobs" / "sha256"

    def put(data: bytes) -> str:
        (blobs / _sha(data).split(":")[1]).write_bytes(data)
        return _sha(data)

    index = json.loads((layout / "index.json").read_text())
    entry = index["manifests"][0]
    manifest = json.loads((blobs / entry["digest"].split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    evil = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(blob), "size": len(blob)}
    swapped = 0
    for record in config["records"]:
        if record.get("layer"):
            record["layer"] = evil
            swapped += 1
    assert swapped
    raw_config = json.dumps(config).encode()
    manifest["config"] = {**manifest["config"], "digest": put(raw_config), "size": len(raw_config)}
    manifest["layers"] = [evil]
    raw_manifest = json.dumps(manifest).encode()
    entry.update(digest=put(raw_manifest), size=len(raw_manifest))
    (layout / "index.json").write_text(json.dumps(index))


def test_a_mapping_an_older_cairn_recorded_unchecked_is_checked_before_use(tmp_path):
    """A store written before mappings were checked may hold a poisoned one: it is checked
    on first use and forgotten, never handed to a push."""
    from builder.image.digest import Digest
    from builder.store.store import Store

    with Store(tmp_path / "store") as store:
        blob = store.blobs.put(evil_layer())
        claimed = Digest.of(b"some other layer")
        with store.transaction() as c:
            c.execute("INSERT INTO layer_blobs(diff_id, blob, media_type, size, verified) VALUES (?,?,?,?,0)",
                      (str(claimed), str(blob), "application/vnd.oci.image.layer.v1.tar+gzip", 10))
        assert store.layer_blobs(claimed) == []
        assert store.conn.execute("SELECT COUNT(*) FROM layer_blobs").fetchone()[0] == 0
