"""SOURCE_DATE_EPOCH, ported from BuildKit's dockerfile_source_date_epoch_test.go (and the
WORKDIR row of dockerfile_workdir_test.go): where the epoch comes from (build arg, a global
ARG default, `context`), what it sets (config and history times, layer mtimes clamped) and
that the same inputs give the same digest."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

from ..conftest import cairn_cli
from .helpers import LoopbackHTTP, build_err, build_ok, container, export, needs_root, tar_bytes, write

pytestmark = needs_root

EPOCH = 1_700_000_001


def oci_image(root: Path, ctx: Path, tmp: Path, *args: str) -> tuple[dict, dict, list[dict[str, int]]]:
    """Build to an OCI layout tar: (manifest, config, [{path: mtime} per layer])."""
    dest = tmp / f"oci-{len(list(tmp.glob('oci-*')))}.tar"
    build_ok(root, ctx, "-o", f"type=oci,dest={dest}", *args)
    with tarfile.open(dest) as tar:
        def blob(digest: str) -> bytes:
            return tar.extractfile("blobs/sha256/" + digest.split(":", 1)[1]).read()

        index = json.loads(tar.extractfile("index.json").read())
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        layers = []
        for desc in manifest["layers"]:
            with tarfile.open(fileobj=io.BytesIO(blob(desc["digest"]))) as layer:
                layers.append({m.name.rstrip("/"): m.mtime for m in layer})
    return manifest, config, layers


def created(config: dict) -> tuple[str, list[str]]:
    return config["created"], [h["created"] for h in config["history"]]


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


ISO = iso(EPOCH)


def test_epoch_sets_the_config_and_history_times(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nENTRYPOINT foo bar\nCOPY Dockerfile /\n"})
    _, config, layers = oci_image(root, ctx, tmp_path, "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}")
    assert created(config) == (ISO, [ISO, ISO])
    assert layers == [{"Dockerfile": EPOCH}]  # the context file is newer: clamped


def test_a_global_arg_default_is_the_epoch_and_a_build_arg_overrides_it(root, tmp_path):
    default = 1445412480  # 2015-10-21T07:28:00Z
    ctx = write(tmp_path / "c", {"Dockerfile": f"ARG SOURCE_DATE_EPOCH={default}\nFROM scratch\nCOPY Dockerfile /\n"})
    _, config, layers = oci_image(root, ctx, tmp_path)
    assert config["created"] == iso(default) and layers == [{"Dockerfile": default}]
    _, config, layers = oci_image(root, ctx, tmp_path, "--build-arg", "SOURCE_DATE_EPOCH=1700000002")
    assert config["created"] == iso(1700000002) and layers == [{"Dockerfile": 1700000002}]


def test_an_empty_build_arg_resets_the_default(root, tmp_path):
    default = 1445412480
    ctx = write(tmp_path / "c", {"Dockerfile": f"ARG SOURCE_DATE_EPOCH={default}\nFROM scratch\nCOPY Dockerfile /\n"})
    _, config, layers = oci_image(root, ctx, tmp_path, "--build-arg", "SOURCE_DATE_EPOCH=")
    assert not config["created"].startswith("2015") and layers[0]["Dockerfile"] > default


def test_an_invalid_default_is_an_error(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "ARG SOURCE_DATE_EPOCH=not-a-timestamp\nFROM scratch\nCOPY Dockerfile /\n"})
    assert "invalid SOURCE_DATE_EPOCH: not-a-timestamp" in build_err(root, ctx)


def test_context_with_a_local_context_leaves_the_epoch_unset(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY Dockerfile /\n"})
    (ctx / "Dockerfile").touch()
    mtime = int((ctx / "Dockerfile").stat().st_mtime)
    _, config, layers = oci_image(root, ctx, tmp_path, "--build-arg", "SOURCE_DATE_EPOCH=context")
    assert layers == [{"Dockerfile": mtime}] and config["created"] > ISO


def _archive_server(mtime: int) -> LoopbackHTTP:
    data = tar_bytes({"foo": b"bar"})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:  # tar_bytes writes mtime 0: set ours
        member = tar.getmember("foo")
    member.mtime = mtime
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.addfile(member, io.BytesIO(b"bar"))
    return LoopbackHTTP({"/src.tar": (buf.getvalue(), {})})


def test_a_build_arg_overrides_a_stage_default(root, tmp_path):
    server = _archive_server(1700000501)
    try:
        ctx = write(tmp_path / "c", {"Dockerfile": (f"ARG SOURCE_DATE_EPOCH=mysource\nFROM scratch AS mysource\n"
                                                    f"ADD {server.url}/src.tar /\nFROM scratch\nCOPY Dockerfile /\n")})
        _, config, layers = oci_image(root, ctx, tmp_path, "--build-arg", "SOURCE_DATE_EPOCH=1700000502")
    finally:
        server.close()
    assert layers == [{"Dockerfile": 1700000502}] and config["created"] == iso(1700000502)


def test_a_stage_that_is_not_source_only_is_refused(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("ARG SOURCE_DATE_EPOCH=mysource\nFROM scratch AS mysource\n"
                                                "COPY Dockerfile /Dockerfile\nFROM scratch\n")})
    err = build_err(root, ctx)
    assert "Dockerfile:2: SOURCE_DATE_EPOCH stage does not meet source-only requirements: unsupported copy" in err


@container
def test_the_epoch_from_a_source_stage(root, tmp_path):
    """The newest file time in the archive the stage fetches (it has no Last-Modified); the
    stage is not built, and `ARG SOURCE_DATE_EPOCH` in another stage sees the number."""
    server = _archive_server(1700000402)
    try:
        ctx = write(tmp_path / "c", {"Dockerfile": (f"ARG SOURCE_DATE_EPOCH=mysource\nFROM scratch AS mysource\n"
                                                    f"ADD {server.url}/src.tar /\nFROM busybox\n"
                                                    "ARG SOURCE_DATE_EPOCH\nRUN echo -n \"$SOURCE_DATE_EPOCH\" >/epoch\n")})
        _, config, layers = oci_image(root, ctx, tmp_path)
        dest = export(root, ctx, tmp_path / "out")
    finally:
        server.close()
    assert layers[-1]["epoch"] == 1700000402 and config["created"] == iso(1700000402)
    assert (dest / "epoch").read_text() == "1700000402"


def test_a_source_stage_takes_last_modified_first(root, tmp_path):
    data = tar_bytes({"foo": b"bar"})  # (entries at time 0)
    server = LoopbackHTTP({"/src.tar": (data, {"Last-Modified": "Tue, 14 Nov 2023 22:16:41 GMT"})})
    try:
        ctx = write(tmp_path / "c", {"Dockerfile": (f"ARG SOURCE_DATE_EPOCH=MySource\nFROM scratch AS mysource\n"
                                                    f"ARG NAME=src\nADD {server.url}/${{NAME}}.tar /\n"
                                                    "FROM scratch\nCOPY Dockerfile /\n")})
        _, config, layers = oci_image(root, ctx, tmp_path)
    finally:
        server.close()
    assert layers == [{"Dockerfile": 1700000201}] and config["created"] == iso(1700000201)


def test_a_source_stage_must_be_one_remote_add_from_scratch(root, tmp_path):
    for stage, message in (("FROM busybox AS src\nADD http://127.0.0.1:9/a.tar /\n", "must use FROM scratch"),
                           ("FROM scratch AS src\nADD Dockerfile /\n", "source must be a single HTTP(S) ADD"),
                           ("FROM scratch AS src\nARG X=1\n", "must contain exactly one remote ADD"),
                           ("FROM scratch AS src\nADD http://127.0.0.1:9/a http://127.0.0.1:9/b /\n",
                            "must contain exactly one remote ADD source")):
        ctx = write(tmp_path / "c", {"Dockerfile": f"ARG SOURCE_DATE_EPOCH=src\n{stage}FROM scratch\nCOPY Dockerfile /\n"})
        assert f"Dockerfile:2: SOURCE_DATE_EPOCH stage {message}" in build_err(root, ctx)


def _digest(root: Path, ctx: Path, *args: str) -> str:
    meta = ctx.parent / "meta.json"
    build_ok(root, ctx, "--metadata-file", str(meta), *args)
    return json.loads(meta.read_text())["containerimage.digest"]


def test_workdir_is_reproducible(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM alpine\nWORKDIR /mydir\n"})
    first = _digest(root, ctx, "--build-arg", "SOURCE_DATE_EPOCH=1673364896")
    again = _digest(root, ctx, "--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1673364896")
    assert first == again


@container
def test_reproducible_run_steps_clamp_only_later_times(root, tmp_path):
    epoch = 1673354096  # 2023-01-10T12:34:56Z
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox\nRUN touch /foo\nRUN touch /foo.1\nRUN touch -d '2010-01-01 12:34:56' /foo-2010\n"
        "RUN touch -d '2010-01-01 12:34:56' /foo-2010.1\nRUN touch -d '2030-01-01 12:34:56' /foo-2030\n"
        "RUN rm -f /foo.1\nRUN rm -f /foo-2010.1\n")})
    args = ("--build-arg", f"SOURCE_DATE_EPOCH={epoch}")
    manifest, config, layers = oci_image(root, ctx, tmp_path, *args)
    assert cairn_cli("cache", "prune", "--all", root=root).returncode == 0
    again, _, _ = oci_image(root, ctx, tmp_path, *args)
    assert again == manifest  # the same digests, built afresh
    times = {path: mtime for layer in layers for path, mtime in layer.items()}
    assert times["foo"] == epoch and times["foo-2030"] == epoch and times["foo-2010"] == 1262349296
    base = json.loads(cairn_cli("inspect", "busybox", root=root).stdout)[0]
    assert config["history"][0]["created"] == base["Created"] != iso(epoch)  # the base's own history kept
