"""The most common multi-stage shape: a build stage compiles, the final stage copies the
result. An edit that leaves the built file identical must not rebuild the final stage
(BuildKit keys COPY --from by the copied content); an edit that changes it must."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

DOCKERFILE = """\
FROM busybox:local AS build
COPY hello.src /src/
RUN mkdir -p /out && sed '/^# /d' /src/hello.src > /out/hello && chmod 755 /out/hello
FROM busybox:local
COPY --from=build /out/hello /usr/local/bin/hello
RUN hello > /greeting
COPY --from=build /out/ /opt/out/
CMD ["hello"]
"""

SOURCE = "#!/bin/sh\n# prints the greeting\necho hello\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "copyfromstore")


def hits(root, ctx: Path) -> list[bool]:
    meta = ctx.parent / "meta.json"
    res = cairn_cli("build", "--progress", "plain", "--metadata-file", str(meta), "-t", "hello:c", str(ctx), root=root)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    doc = json.loads(meta.read_text())
    return [s["cached"] for s in doc["steps"] if s["instruction"].split()[0] in ("RUN", "COPY", "ADD")]


def test_an_edit_that_leaves_the_built_file_identical_hits_the_final_stage(root, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "hello.src").write_text(SOURCE)
    assert hits(root, ctx) == [False] * 5
    assert hits(root, ctx) == [True] * 5
    (ctx / "hello.src").write_text(SOURCE.replace("# prints the greeting", "# prints a greeting") + "# end\n")
    assert hits(root, ctx) == [False, False, True, True, True]  # the build stage ran; its output is the same
    (ctx / "hello.src").write_text(SOURCE.replace("echo hello", "echo hello, again"))
    assert hits(root, ctx) == [False, False, False, False, False]
    res = cairn_cli("run", "--rm", "--network", "none", "hello:c", root=root)
    assert res.returncode == 0 and res.stdout == b"hello, again\n", res.stderr
    res = cairn_cli("run", "--rm", "--network", "none", "hello:c", "cat", "/greeting", root=root)
    assert res.stdout == b"hello, again\n"


def test_a_mode_or_owner_change_of_the_copied_file_misses(root, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "hello.src").write_text(SOURCE)
    hits(root, ctx)
    assert hits(root, ctx) == [True] * 5
    (ctx / "Dockerfile").write_text(DOCKERFILE.replace("chmod 755", "chmod 700"))
    assert hits(root, ctx) == [True, False, False, False, False]
    (ctx / "Dockerfile").write_text(DOCKERFILE.replace("chmod 755 /out/hello", "chmod 755 /out/hello && chown 1:1 /out/hello"))
    assert hits(root, ctx) == [True, False, False, False, False]
