"""The local cache, ported from BuildKit's dockerfile_cache_test.go (the rows that need no
registry): --no-cache and --no-cache-filter rerun steps, a cache mount under --no-cache,
a wildcard whose match was renamed, and the same build giving the same image ID."""

from __future__ import annotations

import json
import time

from .helpers import build_err, build_ok, container, export, image_config, needs_root, write

pytestmark = needs_root


@container
def test_no_cache_reruns_every_step_or_one_stage(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS s0\nRUN cat /dev/urandom | head -c 100 | sha256sum | tee unique\n"
        "FROM busybox AS s1\nRUN cat /dev/urandom | head -c 100 | sha256sum | tee unique2\n"
        "FROM scratch\nCOPY --from=s0 unique /\nCOPY --from=s1 unique2 /\n")})
    first = export(root, ctx, tmp_path / "o1")
    second = export(root, ctx, tmp_path / "o2", "--no-cache")
    read = lambda out, name: (out / name).read_text()  # noqa: E731
    assert read(first, "unique") != read(second, "unique") and read(first, "unique2") != read(second, "unique2")
    third = export(root, ctx, tmp_path / "o3", "--no-cache-filter", "s1")
    assert read(third, "unique") == read(second, "unique") and read(third, "unique2") != read(second, "unique2")


@container
def test_cache_mount_with_no_cache(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS base\nARG FOO=abc\n"
        "RUN --mount=type=cache,target=/cache,mode=0773 touch /cache/$FOO && ls -l /cache | wc -l > /out\n"
        "FROM scratch\nCOPY --from=base /out /\n")})
    assert (export(root, ctx, tmp_path / "o1") / "out").read_text().strip() == "2"
    out = export(root, ctx, tmp_path / "o2", "--no-cache", "--build-arg", "FOO=def")
    assert out.joinpath("out").read_text().strip() == "2"  # --no-cache starts from an empty cache mount
    out = export(root, ctx, tmp_path / "o3", "--build-arg", "FOO=ghi")
    assert out.joinpath("out").read_text().strip() == "3"


@container
def test_renamed_wildcard_match_invalidates_the_copy(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nCOPY file* /files/\nRUN ls /files/file1\n", "file1": "foo"})
    build_ok(root, ctx)
    (ctx / "file1").rename(ctx / "file2")
    build_err(root, ctx)


@container
def test_the_same_build_gives_the_same_image_id(root, tmp_path):
    """Without SOURCE_DATE_EPOCH too: a fully cached rebuild keeps the times its layers were
    made (history and config), so the image ID is the same; an entry without a layer (ENV)
    takes the time of the layer made after it, and the config the last entry's."""
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nENV foo=bar\nCOPY foo /\nRUN echo bar > bar\n",
                                 "foo": "foo-contents"})
    ids = []
    for tag in ("compat/ids:one", "compat/ids:two", "compat/ids:fresh"):
        second = int(time.time())
        while int(time.time()) == second:  # (builds in different seconds: the result must not depend on it)
            time.sleep(0.05)
        meta = tmp_path / f"{tag[-3:]}.json"
        build_ok(root, ctx, "-t", tag, "--metadata-file", str(meta), *(["--no-cache"] if tag.endswith("fresh") else []))
        doc = json.loads(meta.read_text())
        ids.append((doc["containerimage.digest"], doc["containerimage.config.digest"]))
    assert ids[0] == ids[1] and ids[2][1] != ids[0][1]  # --no-cache makes the layers anew: new times
    config = image_config(root, "compat/ids:one")
    base = image_config(root, "busybox")["History"]
    env, copy, run = config["History"][len(base):]
    assert env["created"] == copy["created"] <= run["created"] == config["Created"]
