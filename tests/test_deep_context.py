"""A build context nested 1000 directories deep (`d/d/.../d/f`, within Linux's PATH_MAX:
Docker/BuildKit build it) builds: COPY of it, a second build that hits the cache, a
.dockerignore that leaves out a file at the bottom, and `cairn save` of the image, whose
layer holds the deep file; the same context as a tar on stdin (`cairn build -`). Before,
every walk over the tree recursed once per level (the key's hash, its JSON, the copy, the
layer's tar, the removal of the unpacked context):
`error: internal error: RecursionError`."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile

import pytest

from .conftest import cairn_cli
from .inproc import cairn

DEPTH = 1000


def _deep(ctx, depth: int) -> str:
    """d/d/.../d (depth names) made under ctx one level at a time (os.makedirs recurses);
    the bottom holds f and ignored.txt. Returns the bottom's path relative to ctx."""
    fd = os.open(ctx, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            sub = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = sub
        for name, data in (("f", b"deep\n"), ("ignored.txt", b"left out\n")):
            out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(out, data)
            os.close(out)
    finally:
        os.close(fd)
    return "/".join(["d"] * depth)


def _layer_files(saved) -> dict[str, bytes]:
    """{path: content} of the regular files in the saved image's layers."""
    out = {}
    with tarfile.open(saved) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())[0]
        for name in manifest["Layers"]:
            with tarfile.open(fileobj=tar.extractfile(name)) as layer:
                for m in layer:
                    if m.isfile():
                        out[m.name] = layer.extractfile(m).read()
    return out


def _remove(top) -> None:
    """Remove a tree without recursion (shutil.rmtree, and pytest's clean-up of old tmp_paths,
    recurse once per level)."""
    todo = [str(top)]
    while todo:
        path = todo[-1]
        subdirs = []
        with os.scandir(path) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    subdirs.append(e.path)
                else:
                    os.unlink(e.path)
        if subdirs:
            todo += subdirs
        else:
            os.rmdir(path)
            todo.pop()


@pytest.fixture
def deep_tmp(tmp_path):
    yield tmp_path
    for child in tmp_path.iterdir():
        if child.is_dir() and not child.is_symlink():
            _remove(child)


def test_a_context_1000_directories_deep_builds_caches_and_saves(deep_tmp):
    tmp_path = deep_tmp
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    bottom = _deep(ctx, DEPTH)
    (ctx / ".dockerignore").write_text("**/ignored.txt\n")
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY d /d\nCOPY d/ /e/\n")
    root = tmp_path / "store"
    first = cairn("build", "-t", "deep", str(ctx), root=root)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "internal error" not in first.stderr and "Traceback" not in first.stderr
    again = cairn("build", "-t", "deep", str(ctx), root=root)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stderr.count("CACHED") + again.stdout.count("CACHED") == 2, again.stdout + again.stderr
    saved = tmp_path / "deep.tar"
    res = cairn("save", "-o", str(saved), "deep", root=root)
    assert res.returncode == 0, res.stderr[-2000:]
    files = _layer_files(saved)
    below = bottom[2:]  # (d/d/.../d under /d and /e: the source directory's contents are copied)
    assert files.get(f"d/{below}/f") == b"deep\n", sorted(files)[:3]
    assert files.get(f"e/{below}/f") == b"deep\n", sorted(files)[:3]
    assert not any(name.endswith("ignored.txt") for name in files), "a .dockerignore'd file was copied"
    # the same context as a tar on stdin (`docker build - < context.tar`): unpacked in the store's
    # scratch directory, removed after the build (shutil.rmtree recursed: RecursionError, and the
    # orphan made every later build fail the same way)
    packed = subprocess.run(["tar", "-cf", "-", "-C", str(ctx), "."], check=True, capture_output=True).stdout
    res = cairn_cli("build", "-q", "-t", "deep2", "-", root=root, stdin=packed)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert b"internal error" not in res.stderr


def test_an_image_tree_1000_directories_deep_is_sized_dated_and_copied_up(deep_tmp):
    """What walks a snapshot, a volume or an imported rootfs of any depth (os.walk recursed per
    level: `cairn prune` after untagging a loaded image 1000 directories deep, a volume's size,
    `cairn import` of such a rootfs failed with RecursionError), and a named volume mounted on
    an image directory that deep, filled at the container's start (runtime.copy_up recursed)."""
    from builder.archive.rootfs_import import _newest_mtime
    from builder.containers.volumes import _size
    from builder.store.maintenance import _tree_size
    from runtime.copy_up import copy_up

    rootfs, volume = deep_tmp / "rootfs", deep_tmp / "volume"
    (rootfs / "data").mkdir(parents=True)
    volume.mkdir()
    bottom = _deep(rootfs / "data", DEPTH)
    os.utime(rootfs / "data" / bottom / "f", (4_000_000_000, 4_000_000_000))  # (the newest, at the bottom)
    assert _tree_size(rootfs) == len(b"deep\n") + len(b"left out\n")
    assert _size(rootfs) > 0
    assert _newest_mtime(rootfs) == 4_000_000_000
    copy_up(str(rootfs), "/data", str(volume))
    assert (volume / bottom / "f").read_bytes() == b"deep\n"
