"""A link in the context that names a file or directory the .dockerignore excludes names
nothing, as in BuildKit (the context it receives has no such entry: the link dangles there):
`COPY link` is refused as `COPY secret` is, never a copy of the ignored file (which a remote
daemon, sent the filtered context, could not make either). Links to kept files still copy."""

from __future__ import annotations

import os

from .inproc import cairn


def test_a_link_to_an_ignored_entry_copies_nothing(tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "private").mkdir(parents=True)
    (ctx / "private" / "key").write_text("TOP SECRET\n")
    (ctx / "secret.env").write_text("TOKEN=1\n")
    (ctx / "kept.txt").write_text("kept\n")
    (ctx / ".dockerignore").write_text("secret.env\nprivate\n")
    os.symlink("secret.env", ctx / "env-link")
    os.symlink("private", ctx / "dir-link")
    os.symlink("kept.txt", ctx / "kept-link")
    root = tmp_path / "store"
    for source, ok in (("kept-link", True), ("env-link", False), ("dir-link/key", False), ("dir-link", False)):
        (ctx / "Dockerfile").write_text(f"FROM scratch\nCOPY {source} /x\n")
        res = cairn("build", "-q", str(ctx), root=root)
        assert (res.returncode == 0) == ok, (source, res.stderr)
        if not ok:
            assert "Dockerfile:2:" in res.stderr and "excluded by .dockerignore" in res.stderr, res.stderr
