"""A context directory swapped for a link while the context is walked: the walk scans a
directory, the attacker (who owns the context) replaces a directory it listed, or that
directory's parent, with a link to a host directory, and the walk opens what it pushed. Every
walk (the step memo's, the whole-build memo's split across a forked child, a link target's,
the key's hashing walk, a `cairn build`) must then fail with the "context changed" error,
never record a host entry (its stat fields, its link target, its content's hash). The swap is
made at the exact moment by the walk's own ignore callback (or just before a walk starts)."""

from __future__ import annotations

import os
import shutil

import pytest

from builder.cache import fingerprint, sources
from builder.context.build_context import BuildContext

from .. import test_split_walk
from ..inproc import cairn

HOST_LINK = "/host-only-link-target"
forks = test_split_walk.forks  # (the fixture: every split walk may fork, its forks listed)


def _host(tmp_path):
    """The attacker's aim: a host directory shaped like the context's `b` (so that a path
    through the swapped link names something), holding what must never be seen."""
    host = tmp_path / "host"
    for d in (host / "b" / "deeper", host / "s0" / "deeper"):
        d.mkdir(parents=True)
        (d.parent / "host-marker").write_text("host secret\n")
        (d / "host-deep-marker").write_text("host secret\n")
        os.symlink(HOST_LINK, d.parent / "host-link")
    return host


def _context(tmp_path, tops=("a",)):
    ctx = tmp_path / "ctx"
    for top in tops:
        for sub in ("b", "s0"):
            (ctx / top / sub).mkdir(parents=True)
            (ctx / top / sub / "f").write_text("context file\n")
    return ctx


def _swap(path, host):
    """The attacker's move: the directory at path goes (out of the context), a link to host
    takes its place."""
    os.rename(path, f"{path}.moved")
    os.symlink(host, path)


def _swap_when_asked(monkeypatch, ctx, host):
    """Make the context's .dockerignore filter swap `a` for a link to host when it is asked about
    a/b (in a's scan, before a/b is read); the filter as it was is returned."""
    real = BuildContext.ignored

    def ignored(self, rel):
        if rel == "a/b" and not os.path.islink(ctx / "a"):
            _swap(ctx / "a", host)
        return real(self, rel)

    monkeypatch.setattr(BuildContext, "ignored", ignored)
    return real


def _host_seen(entries) -> list:
    return [e for e in entries if "host-" in os.path.basename(e[0]) or (len(e) == 7 and e[6] == HOST_LINK)]


def _walk(root, ignore, split_after=10**9):
    """The walk's entries (as far as it went) and its error (None when it ended)."""
    out: list = []
    old, fingerprint.SPLIT_AFTER = fingerprint.SPLIT_AFTER, split_after
    try:
        fingerprint._walk(str(root), "", ignore, out, {}, None, split=True)
    except OSError as err:
        return out, err
    finally:
        fingerprint.SPLIT_AFTER = old
    return out, None


@pytest.mark.parametrize("what", ["parent", "itself"])
def test_a_directory_swapped_between_its_scan_and_its_descent_fails_the_walk(tmp_path, what):
    """`a` is scanned (it holds b/ and s0/), then `a` (what="parent", as its scan ends) or the
    subdirectory read last ("itself", as the other is read) becomes a link to the host: opening
    it by its path must not read the host's."""
    host, ctx = _host(tmp_path), _context(tmp_path)
    first, last = os.listdir(ctx / "a")  # (pushed in this order: `last` is read first)
    trigger = f"a/{first}" if what == "parent" else f"a/{last}/f"

    def ignore(rel):
        if rel == trigger and not os.path.islink(ctx / "a") and not os.path.islink(ctx / "a" / first):
            _swap(ctx / "a", host) if what == "parent" else _swap(ctx / "a" / first, host / first)
        return False

    out, err = _walk(ctx, ignore)
    assert not _host_seen(out)
    assert isinstance(err, fingerprint.ContextChanged) and "changed while it was read" in str(err)


@pytest.mark.parametrize("part", ["child", "parent"])
def test_the_swap_in_either_part_of_a_split_walk_fails_it(tmp_path, forks, part):
    """The split walk (a forked child takes the bottom of the stack): the same error comes back
    from the child's part as from the parent's, and no host entry from either."""
    host, ctx = _host(tmp_path), _context(tmp_path, ("a", "c", "d", "e"))
    order = os.listdir(ctx)  # (the root's scan pushes in this order: the child takes the first)
    top = order[0] if part == "child" else order[-1]

    def ignore(rel, top=top):
        if rel == f"{top}/s0" and not os.path.islink(ctx / top):
            _swap(ctx / top, host)
        return False

    out, err = _walk(ctx, ignore, split_after=0)
    assert forks and forks[0]  # (the walk did split)
    assert not _host_seen(out)
    assert isinstance(err, fingerprint.ContextChanged) and "changed while it was read" in str(err)


@pytest.mark.parametrize("walk", ["link target", "named source"])
def test_a_walk_that_starts_below_a_directory_swapped_just_before_fails(tmp_path, monkeypatch, walk):
    """walk_tree walks an ignored directory a link names (`l -> a/b`, `a` ignored) from its path,
    walk_context a COPY source `a/b` resolved just before: `a` swapped for a link to the host
    between the resolve and the walk must not make the host's b that entry."""
    host, ctx = _host(tmp_path), _context(tmp_path)
    if walk == "link target":
        (ctx / ".dockerignore").write_text("a\n")
    os.symlink("a/b", ctx / "l")
    real = fingerprint._walk

    def swapped_first(root, rel, *args, **kw):
        if rel == "a/b" and not os.path.islink(ctx / "a"):
            _swap(ctx / "a", host)
        return real(root, rel, *args, **kw)

    monkeypatch.setattr(fingerprint, "_walk", swapped_first)
    context = BuildContext.open(str(ctx))
    with pytest.raises(OSError) as caught:
        if walk == "link target":
            tree = fingerprint.walk_tree(context)
            assert not _host_seen(tree.entries)
        else:
            seen = fingerprint.walk_context(context, ["a/b"])
            assert seen is None or not _host_seen(seen.entries)
    assert isinstance(caught.value, fingerprint.ContextChanged)


def test_the_keys_hashing_walk_never_hashes_a_host_file(tmp_path, monkeypatch, store):
    """hash_context_sources (the key's own walk, when no memo walk answers): `a` swapped for a link
    after its scan reads on in the directory it scanned (no host entry hashed, listed or
    remembered in the stat cache) or fails; hash_walked (the key from the memo walk's stat
    fields) with `a` swapped after that walk fails rather than hash the host's a/b/f."""
    host, ctx = _host(tmp_path), _context(tmp_path)
    for sub in ("b", "s0"):
        (host / sub / "f").write_text("host secret\n")
    (ctx / ".dockerignore").write_text("*.md\n")
    context = BuildContext.open(str(ctx))
    real = _swap_when_asked(monkeypatch, ctx, host)
    cache = sources.StatCache(store)
    try:
        listed = repr(sources.hash_context_sources(context, ["a"], cache, True))
    except fingerprint.ContextChanged:
        listed = ""
    assert "host-" not in listed and HOST_LINK not in listed
    assert not [p for p in cache.known if "host-" in p]
    monkeypatch.setattr(BuildContext, "ignored", real)
    os.unlink(ctx / "a")
    os.rename(ctx / "a.moved", ctx / "a")
    walk = fingerprint.walk_context(context, ["a"])
    _swap(ctx / "a", host)
    cache = sources.StatCache(store)
    with pytest.raises(fingerprint.ContextChanged):
        sources.hash_walked(walk, cache, True)
    assert not cache.known and not cache.pending


def test_a_build_whose_context_is_swapped_mid_walk_fails_clearly(tmp_path, monkeypatch, store):
    """`cairn build` of a context whose directory becomes a link to the host while the build
    walks it: an error saying the context changed, no traceback, no image."""
    host, ctx = _host(tmp_path), _context(tmp_path)
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY a /a\n")
    (ctx / ".dockerignore").write_text("*.md\n")
    real = _swap_when_asked(monkeypatch, ctx, host)
    res = cairn("build", "-q", "-t", "swapped:latest", str(ctx), root=store.root)
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "the build context changed while it was read" in res.stderr and "Traceback" not in res.stderr
    monkeypatch.setattr(BuildContext, "ignored", real)
    assert "swapped" not in cairn("images", root=store.root).stdout
    shutil.rmtree(ctx)


def test_a_copy_whose_source_directory_is_swapped_mid_copy_copies_no_host_entry(tmp_path, monkeypatch, store):
    """COPY a /a lists a, then `a` becomes a link to a host directory holding only a link and a
    directory (nothing a file read would refuse): the copy reads a's entries inside the context
    (the link followed there, where it names nothing), never puts the host's names, modes or
    link targets in the image."""
    import sys

    host, ctx = tmp_path / "host", _context(tmp_path)
    for sub in ("b", "s0"):
        (host / sub / "host-dir").mkdir(parents=True)
        os.symlink(HOST_LINK, host / sub / "host-link")
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY a /a\n")
    (ctx / ".dockerignore").write_text("*.md\n")
    monkeypatch.setenv("CAIRN_BUILD_MEMO", "0")
    real = BuildContext.ignored

    def ignored(self, rel):  # (asked by the copy itself: the key's walk has seen the context whole)
        if rel.startswith("a/") and sys._getframe(1).f_code.co_name == "_copy" and not os.path.islink(ctx / "a"):
            _swap(ctx / "a", host)
        return real(self, rel)

    monkeypatch.setattr(BuildContext, "ignored", ignored)
    res = cairn("build", "-q", "-t", "swapped:copy", str(ctx), root=store.root)
    monkeypatch.setattr(BuildContext, "ignored", real)
    assert os.path.islink(ctx / "a")  # (the swap was made)
    assert res.returncode == 0, res.stderr
    saved = tmp_path / "image.tar"
    assert cairn("save", "-o", str(saved), "swapped:copy", root=store.root).returncode == 0
    assert b"host-" not in saved.read_bytes() and HOST_LINK.encode() not in saved.read_bytes()


def test_a_directory_listed_then_replaced_is_read_as_it_now_is(tmp_path):
    """The fd a listing keeps answers only while the path still names that directory: `a`
    renamed away and a new `a` made in its place (an editor's or a tool's atomic replace) is
    read anew, inside the context, never through the old listing."""
    ctx = _context(tmp_path)
    context = BuildContext.open(str(ctx))
    assert context.listdir("a") == ["b", "s0"] and context.is_dir("a/b")
    os.rename(ctx / "a", ctx / "old")
    (ctx / "a").mkdir()
    (ctx / "a" / "b").write_text("now a file\n")
    assert not context.is_dir("a/b") and context.lstat("a/s0") is None
    os.symlink("/", ctx / "a" / "up")
    assert context.readlink("a/up") == "/"
