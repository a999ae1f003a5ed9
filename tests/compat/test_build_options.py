"""Build options and inputs, ported from BuildKit's dockerfile_export_test.go,
dockerfile_filesize_test.go and dockerfile_namedcontext_test.go (dockerfile_resources_test.go:
test_resources.py)."""

from __future__ import annotations

import pytest

from .helpers import build_err, build_ok, needs_root, write

pytestmark = needs_root


def test_oversized_dockerfile_is_refused(root, tmp_path):
    line = "# " + "x" * 4096 + "\n"
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\n" + line * ((17 << 20) // len(line))})
    err = build_err(root, ctx)
    assert "Dockerfile" in err and ("too large" in err or "exceeds" in err or "size" in err), err[-500:]


@pytest.mark.xfail(strict=True, reason="cairn build has no --build-context (named contexts)")
def test_named_context_replaces_a_stage(root, tmp_path):
    other = write(tmp_path / "other", {"f": "from the named context"})
    build_ok(root, write(tmp_path / "c", {"Dockerfile": "FROM busybox AS base\nFROM scratch\nCOPY --from=base /f /\n"}),
             "--build-context", f"base={other}")
