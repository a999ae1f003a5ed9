"""Named contexts (`cairn build --build-context NAME=VALUE`), ported from BuildKit's
dockerfile_namedcontext_test.go and testOnBuildNamedContext: a directory, an image of the
store or a registry (docker-image://), or an OCI layout directory (oci-layout://) stands for
a name wherever the Dockerfile uses it: a whole stage of that name, a FROM image, COPY
--from and RUN --mount from, ONBUILD triggers included."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from ..conftest import cairn_cli
from .helpers import (
    build_ok,
    cached_steps,
    container,
    export,
    image_config,
    needs_root,
    write,
)

pytestmark = needs_root

# an image that is not the test's busybox: a marker file, and envs that must carry over
MARKED = ("FROM busybox\nRUN echo 3.20.0 > /etc/alpine-release\nENV PATH=/foobar:$PATH\nENV FOOBAR=foobar\n")


@pytest.fixture(scope="module")
def marked(root, tmp_path_factory):
    build_ok(root, write(tmp_path_factory.mktemp("marked"), {"Dockerfile": MARKED}), "-t", "marked:1")
    return "marked:1"


def layout_of(root: Path, ctx: Path, dest: Path, *args: str) -> tuple[Path, str]:
    """Build ctx to `-o type=oci` and unpack it as an OCI layout directory: (dir, manifest digest)."""
    archive = dest.with_suffix(".tar")
    build_ok(root, ctx, "-o", f"type=oci,dest={archive}", *args)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    index = json.loads((dest / "index.json").read_text())
    assert len(index["manifests"]) == 1
    return dest, index["manifests"][0]["digest"]


@container
def test_named_image_context_replaces_an_image_and_a_stage(root, marked, tmp_path):
    """testNamedImageContext: docker-image:// stands for `FROM busybox` (its files and its ENV
    reach the RUN steps); named as a stage, it replaces the stage, whose commands never run."""
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox AS base\nRUN cat /etc/alpine-release > /out\n"
                                               "RUN env | grep PATH > /env_path\nRUN env | grep FOOBAR > /env_foobar\n"
                                               "FROM scratch\nCOPY --from=base /out /env_path /env_foobar /\n"})
    out = export(root, ctx, tmp_path / "out", "--build-context", f"busybox=docker-image://{marked}")
    assert (out / "out").read_text() == "3.20.0\n"
    assert (out / "env_foobar").read_text().strip() == "FOOBAR=foobar"
    assert "/foobar:" in (out / "env_path").read_text()

    # the stage "base" (itself FROM another stage) is the image: its RUN never runs
    ctx = write(tmp_path / "d", {"Dockerfile": "FROM busybox AS parent\nFROM parent AS base\nRUN echo base > /out\n"
                                               "FROM base\nRUN [ -f /etc/alpine-release ]\nRUN [ ! -f /out ]\n"})
    build_ok(root, ctx, "--build-context", f"base=docker-image://{marked}")


@container
def test_named_image_context_from_a_registry(root, marked, tmp_path):
    """testNamedImageContext's pushed image: a docker-image:// context in a registry is pulled."""
    from ..registry_server import Registry, available

    if not available():
        pytest.skip("docker-registry is not installed (tests/setup-system.sh installs it)")
    with Registry(tmp_path / "reg", "plain") as registry:
        ref = f"{registry.host}/buildkit/testnamedimagecontext:latest"
        assert cairn_cli("push", marked, ref, root=root).returncode == 0
        fresh = tmp_path / "fresh"  # a store without the image: the context is pulled
        ctx = write(tmp_path / "c", {"Dockerfile": "FROM alpine AS base\nRUN echo $FOOBAR > /foobar\n"
                                                   "FROM scratch\nCOPY --from=base /foobar /etc/alpine-release /\n"})
        out = export(fresh, ctx, tmp_path / "out", "--build-context", f"alpine=docker-image://{ref}")
    assert (out / "foobar").read_text() == "foobar\n"
    assert (out / "alpine-release").read_text() == "3.20.0\n"


def _multi_platform_layout(layout: Path, digest: str) -> str:
    """Make the layout's image one entry of a two-platform index, the other platform's first
    (its config differs only in the architecture); returns that other platform."""
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / digest.split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    host_arch = config["architecture"]

    def put(data: bytes) -> str:
        (blobs / hashlib.sha256(data).hexdigest()).write_bytes(data)
        return "sha256:" + hashlib.sha256(data).hexdigest()

    other = "s390x" if host_arch != "s390x" else "ppc64le"
    other_config = json.dumps({**config, "architecture": other}).encode()
    other_manifest = json.dumps({**manifest, "config": {**manifest["config"], "digest": put(other_config),
                                                        "size": len(other_config)}}).encode()
    mt = "application/vnd.oci.image.manifest.v1+json"
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": mt, "digest": put(other_manifest), "size": len(other_manifest),
         "platform": {"os": "linux", "architecture": other}},
        {"mediaType": mt, "digest": digest, "size": (blobs / digest.split(":")[1]).stat().st_size,
         "platform": {"os": "linux", "architecture": host_arch}}]}).encode()
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": put(index), "size": len(index),
         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
    return f"linux/{other}"


@container
def test_named_image_context_platform(root, tmp_path):
    """testNamedImageContextPlatform: a multi-platform context, used by `FROM --platform=$BUILDPLATFORM`,
    gives the build platform's image (listed second here), on which RUN runs."""
    layout, digest = layout_of(root, write(tmp_path / "b", {"Dockerfile": "FROM busybox\nRUN echo native > /which\n"}),
                               tmp_path / "layout")
    other = _multi_platform_layout(layout, digest)
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM --platform=$BUILDPLATFORM busybox AS target\n"
                                               "RUN cat /which > /ran\n"})
    flag = ("--build-context", f"busybox=oci-layout://{layout}")
    out = export(root, ctx, tmp_path / "out", *flag)
    assert (out / "ran").read_text() == "native\n"
    # built for the other platform (no RUN: cairn does not emulate), the stage takes that entry
    ctx = write(tmp_path / "d", {"Dockerfile": "FROM busybox\nCOPY <<EOF /x\nx\nEOF\n"})
    _, exported = layout_of(root, ctx, tmp_path / "other", "--platform", other, *flag)
    blobs = tmp_path / "other" / "blobs" / "sha256"
    manifest = json.loads((blobs / exported.split(":")[1]).read_bytes())
    assert json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())["architecture"] == \
        other.split("/")[1]


@container
def test_named_image_context_timestamps(root, tmp_path):
    """testNamedImageContextTimestamps: the image built on an image context is new: its
    creation time (and its new history's) is not the context image's."""
    base_ctx = write(tmp_path / "b", {"Dockerfile": "FROM alpine\nRUN echo foo >> /test\n"})
    build_ok(root, base_ctx, "-t", "stamped:1", "--build-arg", "SOURCE_DATE_EPOCH=1000000000")
    base = image_config(root, "stamped:1")
    assert base["Created"] == "2001-09-09T01:46:40Z"
    build_ok(root, base_ctx, "-t", "derived:1", "--build-context", "alpine=docker-image://stamped:1")
    derived = image_config(root, "derived:1")
    assert derived["Created"] > base["Created"]
    assert derived["History"][-1]["created"] > base["Created"]  # the new RUN's entry


def test_named_image_context_scratch(root, tmp_path):
    """testNamedImageContextScratch: `docker-image://scratch` makes `FROM busybox` the empty image."""
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox AS build\nCOPY <<EOF /out\nhello world!\nEOF\n"})
    out = export(root, ctx, tmp_path / "out", "--build-context", "busybox=docker-image://scratch")
    assert sorted(p.name for p in out.iterdir()) == ["out"]
    assert (out / "out").read_text() == "hello world!\n"


def test_named_local_context_replaces_a_stage(root, tmp_path):
    """testNamedLocalContext: a directory replaces the stage `base`; its own .dockerignore applies."""
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox AS base\nRUN cat /etc/alpine-release > /out\n"
                                               "FROM scratch\nCOPY --from=base /o* /\n"})
    other = write(tmp_path / "other", {"out": "dummy-result", "out2": "dummy-result", ".dockerignore": "out2\n"})
    out = export(root, ctx, tmp_path / "out", "--build-context", f"base={other}")
    assert (out / "out").read_text() == "dummy-result"
    assert not (out / "out2").exists()


@container
def test_named_oci_layout_context(root, tmp_path):
    """testNamedOCILayoutContext: oci-layout://DIR@DIGEST replaces the stage `base` (its RUN never
    runs) and the image `foo` (whose ENV the RUN steps see)."""
    layout, digest = layout_of(root, write(tmp_path / "b", {
        "Dockerfile": "FROM busybox\nWORKDIR /test\nRUN printf first > out\nRUN printf second > out2\nENV foo=bar\n"}),
        tmp_path / "layout")
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox AS base\nRUN cat /etc/alpine-release > out\n\n"
                                               "FROM foo AS imported\nRUN printf $foo > outfoo\n\n"
                                               "FROM scratch\nCOPY --from=base /test/o* /\n"
                                               "COPY --from=imported /test/outfoo /\n"})
    out = export(root, ctx, tmp_path / "out", "--build-context", f"base=oci-layout://{layout}@{digest}",
                 "--build-context", f"foo=oci-layout://{layout}@{digest}")
    assert (out / "out").read_text() == "first"
    assert (out / "out2").read_text() == "second"
    assert (out / "outfoo").read_text() == "bar"


def test_named_oci_layout_context_export(root, tmp_path):
    """testNamedOCILayoutContextExport: an image context's config (WORKDIR, ENV) is the stage's,
    and reaches the exported image; the layout's only image is taken when no digest is named."""
    layout, _ = layout_of(root, write(tmp_path / "b", {"Dockerfile": "FROM scratch\nWORKDIR /test\nENV foo=bar\n"}),
                          tmp_path / "layout")
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM nonexistent AS base\n"})
    _, config = layout_of(root, ctx, tmp_path / "exported", "--build-context", f"nonexistent=oci-layout://{layout}")
    blobs = tmp_path / "exported" / "blobs" / "sha256"
    manifest = json.loads((blobs / config.split(":")[1]).read_bytes())
    cfg = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    assert cfg["config"]["WorkingDir"] == "/test"
    assert "foo=bar" in cfg["config"]["Env"]


FILTERED = """FROM scratch AS copy_from
COPY --from=foo /foo /

FROM busybox AS run_mount
RUN --mount=from=foo,src=/foo,target=/in/foo cp /in/foo /foo

FROM foo AS image_source
COPY --from=busybox / /
RUN cat /foo > /bar
"""


@container
@pytest.mark.parametrize("replace", [False, True], ids=["new", "replace"])
def test_named_filtered_context(root, tmp_path, replace):
    """testNamedFilteredContext: a step reads only the files it uses of a directory context
    (new, or replacing a stage of that name): changing another file misses only the stage
    built FROM the whole directory."""
    foo = write(tmp_path / "foo", {"foo": "foo", "bar": b"\0" * (1 << 20)})
    text = ("FROM scratch AS foo\nCOPY <<EOF /foo\ntest\nEOF\n" if replace else "") + FILTERED
    ctx = write(tmp_path / "c", {"Dockerfile": text})
    flag = ("--build-context", f"foo={foo}")
    for target in ("copy_from", "run_mount", "image_source"):
        out = export(root, ctx, tmp_path / f"out-{target}", "--target", target, *flag)
        assert (out / "foo").read_text() == "foo"
    assert (tmp_path / "out-image_source" / "bar").read_text() == "foo"
    assert len((tmp_path / "out-image_source" / "foo").read_bytes()) == 3
    (foo / "bar").write_bytes(tmp_path.name.encode() * (1 << 14))  # (content this test alone makes)
    assert cached_steps(build_ok(root, ctx, "--target", "copy_from", *flag)) == 1
    assert cached_steps(build_ok(root, ctx, "--target", "run_mount", *flag)) == 1
    assert cached_steps(build_ok(root, ctx, "--target", "image_source", *flag)) == 0


@container
def test_eager_named_context_lookup(root, tmp_path):
    """testEagerNamedContextLookup: contexts only unneeded stages use are never loaded (these
    images do not exist, and a registry on port 9 would refuse at once)."""
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM broken AS notused\n\nFROM alpine AS base\n"
                                               "RUN echo base > /foo\n\nFROM busybox AS otherstage\n\n"
                                               "FROM scratch\nCOPY --from=base /foo /foo\n"})
    out = export(root, ctx, tmp_path / "out", "--build-context", "notused=docker-image://127.0.0.1:9/nosuchimage",
                 "--build-context", "busybox=docker-image://127.0.0.1:9/dontexist:latest")
    assert (out / "foo").read_text() == "base\n"


@container
def test_onbuild_named_context(root, tmp_path):
    """testOnBuildNamedContext: the ONBUILD of an OCI layout context names a stage of the
    Dockerfile that uses it, which is built for it."""
    layout, digest = layout_of(root, write(tmp_path / "b", {
        "Dockerfile": "FROM busybox:latest\nONBUILD COPY --from=otherstage /testfile /out/foo\n"}), tmp_path / "layout")
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM alpine AS otherstage\nRUN printf hello > /testfile\n\n"
                                               "FROM base AS inputstage\n\n"
                                               "FROM scratch\nCOPY --from=inputstage /out/foo /bar\n"})
    out = export(root, ctx, tmp_path / "out", "--build-context", f"base=oci-layout://{layout}@{digest}")
    assert (out / "bar").read_text() == "hello"
