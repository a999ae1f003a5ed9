"""Cache export and import between CI runners, ported from BuildKit's
dockerfile_cache_test.go: a registry cache in the default mode (min), the same as one OCI
image manifest (`image-manifest=true,oci-mediatypes=true`), and a local cache directory
that a build both imports and exports again (the "cache loop").

Each runner is an empty store whose base image comes from the real distribution registry
(through a proxy that logs every request), as on a fresh CI machine. The final images are
FROM scratch and copy a stage's file made by `RUN ... /dev/urandom`: the output is the
same on the next runner only if that RUN did not run there."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from .. import registry_server
from ..conftest import cairn_cli
from ..http_proxy import Proxy
from ..registry_server import Registry
from .helpers import build, build_ok, container, needs_root, write

pytestmark = [needs_root, pytest.mark.skipif(not registry_server.available(),
                                             reason="docker-registry is not installed (tests/setup-system.sh)")]

# BuildKit's Dockerfile, but for `stage-only`: without it the stage's RUN layer (just `unique`)
# is the very layer the image's `COPY --from=base unique /` makes, so the cache holds the
# stage's layers by content and runner C needs no rebuild to read them.
UNIQUE = """\
FROM {base} AS base
COPY foo const
RUN cat /dev/urandom | head -c 100 | sha256sum > unique && touch stage-only
FROM scratch
COPY --from=base const /
COPY --from=base unique /
"""


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    registry = Registry(tmp_path_factory.mktemp("reg-cache-compat"), "plain")
    try:
        with Proxy(registry.port) as p:
            yield p
    finally:
        registry.close()


@pytest.fixture(scope="module")
def base(proxy, root):
    ref = f"{proxy.host}/base/busybox:1"
    res = cairn_cli("push", "busybox:local", ref, root=root)
    assert res.returncode == 0, res.stderr
    return ref


def runner(tmp_path: Path, name: str, ctx: Path, *args: str) -> tuple[dict, str]:
    """A build in a fresh store (a new CI machine): (its metadata, its stderr)."""
    meta = tmp_path / f"{name}.json"
    err = build_ok(tmp_path / name, ctx, "--metadata-file", str(meta), *args)
    return json.loads(meta.read_text()), err


def counted(meta: dict) -> list[dict]:
    return [s for s in meta["steps"] if s["instruction"].split()[0] in ("RUN", "COPY", "ADD")]


def raw_manifest(ref: str) -> dict:
    """The manifest at a ref, read with skopeo (not with cairn)."""
    res = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                         capture_output=True)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def image_layer_gets(proxy: Proxy, since: int) -> set[str]:
    """Digests of the blobs fetched since `since` (GETs of /blobs/)."""
    return {e[1].rsplit("/", 1)[1].removeprefix("sha256:") for e in proxy.log[since:] if e[0] == "GET" and "/blobs/" in e[1]}


@container
def test_registry_cache_rebuilds_without_running_the_copied_stage(tmp_path, proxy, base):
    """testCacheImportExport: runner A exports its cache (default mode=min) to a registry;
    runner B, an empty store with the bare ref as --cache-from, hits every step, does not
    run the stage's RUN, and writes the same files."""
    ctx = write(tmp_path / "ctx", {"Dockerfile": UNIQUE.format(base=base), "foo": "foobar"})
    cache = f"{proxy.host}/cache/testexportdf:latest"
    runner(tmp_path, "a", ctx, "--cache-to", f"type=registry,ref={cache}", "-o", f"type=local,dest={tmp_path / 'out-a'}")
    assert (tmp_path / "out-a" / "const").read_text() == "foobar"
    unique = (tmp_path / "out-a" / "unique").read_text()

    # min: the cache holds the image's two layers, not the stage's (that one has only its keys)
    manifest = raw_manifest(cache)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert len(manifest["layers"]) == 2

    since = len(proxy.log)
    meta, err = runner(tmp_path, "b", ctx, "--cache-from", cache, "-o", f"type=local,dest={tmp_path / 'out-b'}")
    assert (tmp_path / "out-b" / "const").read_text() == "foobar"
    assert (tmp_path / "out-b" / "unique").read_text() == unique
    steps = counted(meta)
    assert len(steps) == 4 and all(s["cached"] for s in steps), [(s["instruction"], s["cached"]) for s in steps]
    assert {s["cache_source"] for s in steps} == {cache}
    # B fetched the image's layers (for -o type=local) and no layer of the busybox stage
    fetched = image_layer_gets(proxy, since)
    assert {layer["digest"].split(":")[1] for layer in manifest["layers"]} <= fetched
    base_layers = {layer["digest"].split(":")[1] for layer in raw_manifest(base)["layers"]}
    assert not base_layers & fetched

    # runner C's image also needs a file of the stage the cache has only the keys of: the
    # stage is built for real (a new RUN output), and the image's COPY of the unchanged
    # const still hits
    (ctx / "Dockerfile").write_text(UNIQUE.format(base=base) + "COPY --from=base /bin/busybox /bb\n")
    meta, err = runner(tmp_path, "c", ctx, "--cache-from", cache, "-o", f"type=local,dest={tmp_path / 'out-c'}")
    assert "holds only the keys of a stage" in err
    assert (tmp_path / "out-c" / "bb").stat().st_size > 0
    assert (tmp_path / "out-c" / "const").read_text() == "foobar"
    assert [s["cached"] for s in counted(meta)] == [False, False, True, False, False]


@container
def test_cache_as_an_oci_image_manifest(tmp_path, proxy, base):
    """testImageManifestCacheImportExport: `oci-mediatypes=true,image-manifest=true` stores
    the cache as one OCI image manifest (not an index) whose config is the cache; an empty
    store imports it and writes the same files. With Docker's media types it is a schema 2
    manifest, imported the same way."""
    ctx = write(tmp_path / "ctx", {"Dockerfile": UNIQUE.format(base=base), "foo": "foobar"})
    for name, options, media_type in (
            ("oci", "oci-mediatypes=true,image-manifest=true", "application/vnd.oci.image.manifest.v1+json"),
            ("docker", "oci-mediatypes=false", "application/vnd.docker.distribution.manifest.v2+json")):
        cache = f"{proxy.host}/cache/manifest:{name}"
        runner(tmp_path, f"a-{name}", ctx, "--cache-to", f"type=registry,ref={cache},{options}",
               "-o", f"type=local,dest={tmp_path / f'out-a-{name}'}")
        manifest = raw_manifest(cache)
        assert manifest["mediaType"] == media_type and "manifests" not in manifest
        assert manifest["config"]["mediaType"] == "application/vnd.cairn.cache.config.v1+json"
        assert all(layer["mediaType"].startswith(("application/vnd.oci.image.layer.", "application/vnd.docker."))
                   for layer in manifest["layers"])
        meta, _ = runner(tmp_path, f"b-{name}", ctx, "--cache-from", f"type=registry,ref={cache}",
                         "-o", f"type=local,dest={tmp_path / f'out-b-{name}'}")
        assert all(s["cached"] for s in counted(meta))
        assert (tmp_path / f"out-b-{name}" / "unique").read_text() == \
            (tmp_path / f"out-a-{name}" / "unique").read_text()


def test_cache_manifest_options_are_checked(tmp_path):
    for value, message in [("image-manifest=maybe", "image-manifest must be true or false"),
                           ("oci-mediatypes=yes", "oci-mediatypes must be true or false"),
                           ("oci-mediatypes=false,image-manifest=true", "image-manifest=true needs oci-mediatypes")]:
        res = build(tmp_path / "s", tmp_path, "--cache-to", f"type=registry,ref=127.0.0.1:9/c/c:1,{value}")
        err = res.stderr.decode()
        assert res.returncode == 2 and message in err and "Traceback" not in err, (value, err)


def layout_is_whole(layout: Path) -> None:
    """Every blob the layout's index names (manifests, configs, layers) is there, with its digest."""
    index = json.loads((layout / "index.json").read_text())
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] == ["latest"]

    def blob(desc: dict) -> bytes:
        data = (layout / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == desc["digest"] and len(data) == desc["size"]
        return data

    for entry in index["manifests"]:
        manifest = json.loads(blob(entry))
        blob(manifest["config"])
        for layer in manifest["layers"]:
            blob(layer)


@container
def test_import_and_export_the_same_cache_directory(tmp_path, base):
    """testExportCacheLoop: stages built FROM one another, one copying from another; runner
    A exports to a directory; runner B imports it and exports to it again in the same
    build; the directory stays a whole cache, and runner C hits every step from it."""
    ctx = write(tmp_path / "ctx", {"hello.txt": "hello", "Dockerfile": (
        f"FROM {base} AS base\nRUN echo aa > /foo\nWORKDIR /bar\n\n"
        "FROM base AS base1\nCOPY hello.txt .\n\n"
        "FROM base AS base2\nCOPY --from=base1 /bar/hello.txt .\nRUN true\n\n"
        "FROM scratch\nCOPY --from=base2 /foo /f\n")})
    cache = tmp_path / "cache" / "cache"
    runner(tmp_path, "a", ctx, "--cache-to", f"type=local,dest={cache}")
    layout_is_whole(cache)
    meta, _ = runner(tmp_path, "b", ctx, "--cache-to", f"type=local,dest={cache}", "--cache-from",
                     f"type=local,src={cache}", "-o", f"type=local,dest={tmp_path / 'out-b'}")
    assert all(s["cached"] for s in counted(meta)), [(s["instruction"], s["cached"]) for s in counted(meta)]
    assert (tmp_path / "out-b" / "f").read_text() == "aa\n"
    layout_is_whole(cache)
    meta, _ = runner(tmp_path, "c", ctx, "--cache-from", f"type=local,src={cache}",
                     "-o", f"type=local,dest={tmp_path / 'out-c'}")
    assert all(s["cached"] for s in counted(meta))
    assert (tmp_path / "out-c" / "f").read_text() == "aa\n"
