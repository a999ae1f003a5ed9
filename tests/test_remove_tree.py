"""Removing a container's directory (`run --rm`, `rm`): what the container left in its upper
directory is untrusted. Links in it are removed, never followed, at any depth, and a tree
deeper than the shutil-free remover goes is still removed whole."""

from __future__ import annotations

import os

import pytest

from builder.store.store import remove_tree


@pytest.mark.parametrize("depth", [0, 1, 3, 4, 5, 12])
def test_links_a_container_left_are_removed_not_followed(tmp_path, depth):
    host = tmp_path / "host"
    (host / "sub").mkdir(parents=True)
    (host / "secret").write_text("keep")
    (host / "sub" / "file").write_text("keep")
    cdir = tmp_path / "container"
    deep = cdir / "upper" / os.path.join(*[f"d{i}" for i in range(depth)]) if depth else cdir / "upper"
    deep.mkdir(parents=True)
    (deep / "to-dir").symlink_to(host)
    (deep / "to-sub").symlink_to(host / "sub")
    (deep / "to-file").symlink_to(host / "secret")
    (deep / "plain").write_text("x")
    (deep / "empty").mkdir()
    os.mkfifo(deep / "fifo")
    remove_tree(cdir)
    assert not cdir.exists()
    assert (host / "secret").read_text() == "keep" and (host / "sub" / "file").read_text() == "keep"
