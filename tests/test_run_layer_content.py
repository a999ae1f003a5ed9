"""What a RUN layer holds is the step's own change, as in BuildKit: the stubs the container
needed for /etc/hosts, /etc/hostname and /etc/resolv.conf on an image that lacks them, and the
`etc/` copied up to hold them, are not part of it; a change the step made to /etc is."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
import zstandard

from .conftest import cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


@pytest.fixture
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "layercontent")


def _layer_names(layout: Path, blob: str) -> list[str]:
    data = (layout / "blobs" / "sha256" / blob.split(":", 1)[1]).read_bytes()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:  # plain or gzip
        return sorted(m.name.rstrip("/") for m in tar)


def test_run_layers_hold_only_the_steps_own_changes_to_etc(root, tmp_path):
    ctx = tmp_path / "c"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox:local AS full\n"
        "FROM scratch\n"  # an image without them
        "COPY --from=full --exclude=etc/hosts --exclude=etc/hostname --exclude=etc/resolv.conf / /\n"
        "RUN true\n"
        "RUN cat /etc/hosts /etc/resolv.conf > /dev/null\n"
        "RUN chmod 0700 /etc\n"
        "RUN touch /etc/made-here\n")
    layout = tmp_path / "layout"
    res = cairn_cli("build", "-o", f"type=oci,tar=false,dest={layout}", str(ctx), root=root)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-3000:]
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":", 1)[1]).read_text())
    copied, true, reads, chmod, touch = [_layer_names(layout, layer["digest"]) for layer in manifest["layers"]]
    assert "etc/passwd" in copied and "etc/hosts" not in copied
    assert true == [] and reads == []  # BuildKit: an empty layer, no etc/ with a new mtime
    assert chmod == ["etc"]  # the step's own change of mode stays
    assert touch == ["etc", "etc/made-here"]
