"""The build context's own directory swapped for a link to a host directory by whoever owns
its parent (cairn run as root by a CI runner on a context a user can write), after the
Dockerfile was read and the key's walk ran: COPY must never read through the link (the host's
file in the image); the build fails with the "context changed" error instead."""

from __future__ import annotations

import os

import pytest

from builder.context.build_context import BuildContext

from ..inproc import cairn


def test_a_context_directory_swapped_for_a_link_before_copy_copies_no_host_file(tmp_path, monkeypatch, store):
    base = tmp_path / "parent-owned-by-the-attacker"
    (base / "ctx").mkdir(parents=True)
    (base / "host").mkdir()
    (base / "host" / "secret").write_text("HOST SECRET\n")
    (base / "ctx" / "secret").write_text("decoy\n")
    (base / "ctx" / "Dockerfile").write_text("FROM scratch\nCOPY secret /secret\n")
    real = BuildContext.open_file

    def open_file(self, rel):  # (the swap, as COPY reads its first file)
        if not os.path.islink(base / "ctx"):
            os.rename(base / "ctx", base / "ctx.moved")
            os.symlink(base / "host", base / "ctx")
        return real(self, rel)

    monkeypatch.setattr(BuildContext, "open_file", open_file)
    monkeypatch.setenv("CAIRN_BUILD_MEMO", "0")
    res = cairn("build", "-q", "-t", "rootswap:x", str(base / "ctx"), root=store.root)
    monkeypatch.setattr(BuildContext, "open_file", real)
    assert os.path.islink(base / "ctx")  # (the swap was made)
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "the build context changed while it was read" in res.stderr and "Traceback" not in res.stderr
    assert "rootswap" not in cairn("images", root=store.root).stdout


@pytest.mark.parametrize("swapped", ["context", "its parent"])
def test_the_keys_walks_refuse_a_context_root_swapped_after_the_context_was_opened(tmp_path, store, swapped):
    """The step memo's walk (walk_context) and the key's hashing (hash_walked, after that walk)
    with the context's directory, or its parent, swapped for a link to a host directory of the
    same shape: the "context changed" error, never a walk or a hash of the host's."""
    from builder.cache import fingerprint, sources

    for top in ("p", "host"):
        (tmp_path / top / "ctx" / "d").mkdir(parents=True)
        (tmp_path / top / "ctx" / "d" / "f").write_text(f"{top} file\n")
    context = BuildContext.open(str(tmp_path / "p" / "ctx"))
    walk = fingerprint.walk_context(context, ["d"])
    moved = tmp_path / "p" / "ctx" if swapped == "context" else tmp_path / "p"
    os.rename(moved, f"{moved}.moved")
    os.symlink(tmp_path / "host" / "ctx" if swapped == "context" else tmp_path / "host", moved)
    with pytest.raises(fingerprint.ContextChanged):
        sources.hash_walked(walk, sources.StatCache(store), True)
    with pytest.raises(fingerprint.ContextChanged):
        fingerprint.walk_context(context, ["d"])
