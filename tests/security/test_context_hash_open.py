"""A context file read for its key's hash, with a directory on its path swapped for a link
after the walk stat-ed it (cairn run as root by a CI runner; the context writable by a user):
the read must never open what the link names. Not a host device (opening a pty makes it a
session leader's controlling terminal, the attacker's ^C then kills cairn; a device's open
can act), nor a host file on another filesystem that has the inode number the walk saw (tmpfs
numbers its inodes in sequence): the hash fails with the "context changed" error."""

from __future__ import annotations

import os
import stat

import pytest

from builder.cache import fingerprint, sources
from builder.context.build_context import BuildContext
from runtime import syscalls


def _swap(path, target):
    os.rename(path, f"{path}.moved")
    os.symlink(target, path)


def test_a_directory_swapped_for_a_link_to_dev_never_opens_the_device(tmp_path, monkeypatch, store):
    """ctx/d/null is walked, then d becomes a link to /dev: hashing d/null must not open /dev/null
    (it stands for /dev/pts/N or /dev/watchdog) for reading, and fails."""
    ctx = tmp_path / "ctx"
    (ctx / "d").mkdir(parents=True)
    (ctx / "d" / "null").write_text("")
    context = BuildContext.open(str(ctx))
    walk = fingerprint.walk_context(context, ["d"])
    _swap(ctx / "d", "/dev")
    opened, real_open = [], os.open

    def recording_open(path, flags, *args, **kw):
        fd = real_open(path, flags, *args, **kw)
        if stat.S_ISCHR(os.fstat(fd).st_mode) and not flags & getattr(os, "O_PATH", 0o10000000):
            opened.append((path, flags))
        return fd

    monkeypatch.setattr(os, "open", recording_open)
    cache = sources.StatCache(store)
    with pytest.raises(fingerprint.ContextChanged):
        sources.hash_walked(walk, cache, True)
    monkeypatch.setattr(os, "open", real_open)
    assert opened == []
    assert not cache.pending


@pytest.fixture
def two_tmpfs(tmp_path):
    """Two fresh tmpfs mounts: the same steps in each make files with the same inode numbers."""
    mounts = [tmp_path / "fs-ctx", tmp_path / "fs-host"]
    made = []
    try:
        for m in mounts:
            m.mkdir()
            syscalls.mount("tmpfs", str(m), "tmpfs", 0, "size=1m")
            made.append(m)
        yield mounts
    finally:
        for m in made:
            syscalls.umount2(str(m), 2)  # MNT_DETACH


def test_a_host_file_with_the_walked_inode_number_on_another_filesystem_is_never_hashed(two_tmpfs, store):
    """ctx/d/f on one filesystem, the host's d/f on another with the same inode number and size:
    d swapped for a link to the host's d after the walk must fail the hash, not hash the host's."""
    fs_ctx, fs_host = two_tmpfs
    for top, text in ((fs_ctx, "context file\n"), (fs_host, "host secret!\n")):
        (top / "ctx" / "d").mkdir(parents=True)
        (top / "ctx" / "d" / "f").write_text(text)
    ctx, host = fs_ctx / "ctx", fs_host / "ctx"
    assert os.stat(ctx / "d" / "f").st_ino == os.stat(host / "d" / "f").st_ino  # (the attacker's aim)
    walk = fingerprint.walk_context(BuildContext.open(str(ctx)), ["d"])
    _swap(ctx / "d", host / "d")
    cache = sources.StatCache(store)
    with pytest.raises(fingerprint.ContextChanged):
        print(sources.hash_walked(walk, cache, True))
    assert not cache.pending
