"""Build options and inputs, ported from BuildKit's dockerfile_export_test.go,
dockerfile_filesize_test.go (dockerfile_resources_test.go: test_resources.py, dockerfile_namedcontext_test.go:
test_named_contexts.py)."""

from __future__ import annotations

from .helpers import build_err, needs_root, write

pytestmark = needs_root


def test_oversized_dockerfile_is_refused(root, tmp_path):
    line = "# " + "x" * 4096 + "\n"
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\n" + line * ((17 << 20) // len(line))})
    err = build_err(root, ctx)
    assert "Dockerfile" in err and ("too large" in err or "exceeds" in err or "size" in err), err[-500:]
