"""The step memo (issue 17): a COPY whose context is unchanged is keyed from stat alone,
and no edit a user makes to a project may hit where it missed before; and the bookkeeping
of a cached rebuild (its hits marked used in one transaction) still orders `cache ls`.

Each row is an edit a user makes between two builds of one project, and whether the COPY
step then hits, as it did before the memo. Every build also computes the COPY's key from
the files, without the memo: the two keys must be equal. Builds run in the test's process
(COPY only, no container), with the memo's "changed too recently to vouch for" window
(fingerprint.RACY_NS) at zero, so that files written a moment ago are memoised as they are
after a while in a real project.
"""

from __future__ import annotations

import json
import os

import pytest

from builder.cache import fingerprint
from builder.executor import keys

from .conftest import cairn_cli
from .inproc import cairn

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

DOCKERFILE = "FROM base:local\nARG V=1\nCOPY . /app/$V\n"


def _rewrite_same_size_and_mtime(ctx):
    path = ctx / "src" / "a.txt"
    st = path.stat()
    path.write_text("A" * st.st_size)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _retarget_link(ctx):
    (ctx / "link").unlink()
    (ctx / "link").symlink_to("src/b.txt")  # (as long as the old target: the same size)


def _touch_all(ctx):
    for path in ctx.rglob("*"):
        os.utime(path, (12345, 12345), follow_symlinks=False)


def _ignore_what_is_copied(ctx):
    (ctx / ".dockerignore").write_text(".dockerignore\nignored*\nsrc/b.txt\n")


def _ignore_what_is_ignored(ctx):
    (ctx / ".dockerignore").write_text(".dockerignore\nignored*\nignored-too\n")


# (what the user did, the edit, whether the COPY then hits, extra build arguments)
ROWS = [
    ("nothing", lambda ctx: None, True, ()),
    ("touched every file (mtime only)", _touch_all, True, ()),
    ("new content, same size, mtime put back", _rewrite_same_size_and_mtime, False, ()),
    ("a file's mode changed", lambda ctx: (ctx / "src" / "c.txt").chmod(0o600), False, ()),
    ("a file added", lambda ctx: (ctx / "src" / "new.txt").write_text("new\n"), False, ()),
    ("a file removed", lambda ctx: (ctx / "src" / "c.txt").unlink(), False, ()),
    ("an empty directory added", lambda ctx: (ctx / "src" / "empty").mkdir(), False, ()),
    ("an ignored file changed", lambda ctx: (ctx / "ignored.log").write_text("more\n"), True, ()),
    (".dockerignore now ignores a copied file", _ignore_what_is_copied, False, ()),
    (".dockerignore changed, the copied files not", _ignore_what_is_ignored, True, ()),
    ("a symlink retargeted", _retarget_link, False, ()),
    ("a build arg the COPY uses changed", lambda ctx: None, False, ("--build-arg", "V=2")),
    ("the base image's tag moved", lambda ctx: None, False, ("base-moves",)),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory, busybox_tar):
    root = tmp_path_factory.mktemp("memostore")
    assert cairn_cli("import", str(busybox_tar), "busybox:local", root=root).returncode == 0
    other = tmp_path_factory.mktemp("memo-other-base")
    (other / "Dockerfile").write_text("FROM busybox:local\nCOPY marker /marker\n")
    (other / "marker").write_text("another base\n")
    assert cairn_cli("build", "-t", "other:local", str(other), root=root).returncode == 0
    assert cairn_cli("tag", "busybox:local", "base:local", root=root).returncode == 0
    (root / "other-context").symlink_to(other)
    ctx = tmp_path_factory.mktemp("memoctx")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / ".dockerignore").write_text(".dockerignore\nignored*\n")
    (ctx / "ignored.log").write_text("log\n")
    (ctx / "src").mkdir()
    for name in ("a", "b", "c"):
        (ctx / "src" / f"{name}.txt").write_text(f"{name} content\n")
    (ctx / "link").symlink_to("src/a.txt")
    return root, ctx


def _copy_step(root, ctx, *args) -> dict:
    meta = ctx.parent / f"memo-meta-{os.getpid()}.json"
    res = cairn("build", "--progress", "quiet", "--metadata-file", str(meta), *args, str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    return next(s for s in json.loads(meta.read_text())["steps"] if s["instruction"].startswith("COPY"))


def test_every_edit_misses_exactly_as_without_the_memo(project, monkeypatch):
    root, ctx = project
    monkeypatch.setattr(fingerprint, "RACY_NS", 0)
    _copy_step(root, ctx)  # cold, then memoised
    build_args: tuple = ()
    for what, edit, hits, extra in ROWS:
        _copy_step(root, ctx, *build_args)  # (the memo holds the inputs before the edit)
        edit(ctx)
        if extra == ("base-moves",):
            assert cairn("tag", "other:local", "base:local", root=root).returncode == 0
        else:
            build_args = extra or build_args
        step = _copy_step(root, ctx, *build_args)
        with monkeypatch.context() as m:  # the key from the files, as before the memo
            m.setattr(keys, "context_fingerprint", lambda *a, **k: None)
            oracle = _copy_step(root, ctx, *build_args)
        assert (step["cached"], step["key"]) == (hits, oracle["key"]), what


def test_an_unchanged_copy_reads_no_file(project, monkeypatch):
    root, ctx = project
    monkeypatch.setattr(fingerprint, "RACY_NS", 0)
    first = _copy_step(root, ctx)
    again = _copy_step(root, ctx)  # (memoised now, whatever the first found)

    def no_hashing(*args, **kwargs):
        raise AssertionError("the context's files were hashed for an unchanged step")

    monkeypatch.setattr(keys, "hash_context_sources", no_hashing)
    step = _copy_step(root, ctx)
    assert step["cached"] and step["key"] == again["key"] == first["key"]


def test_a_file_changed_just_now_is_not_vouched_for_by_stat(tmp_path):
    """A rewrite within the clock's granularity may leave every stat field as it was: a
    context with a file changed this instant gets no fingerprint (its key comes from the files)."""
    from builder.context.build_context import BuildContext

    (tmp_path / "f").write_text("x")
    ctx = BuildContext.open(str(tmp_path))
    walk = fingerprint.walk_context(ctx, [""])
    assert fingerprint.context_fingerprint(walk, "parent", None, {"COPY": True}, True) is None


def test_a_cached_rebuild_marks_its_records_used(project):
    """`cache ls` lists records most recently used first (what `cache prune` keeps): a
    rebuild whose steps all hit moves its records to the top."""
    root, ctx = project
    other = (root / "other-context").resolve()

    def first_listed() -> str:
        res = cairn("cache", "ls", root=root)
        return res.stdout.splitlines()[1].split()[-1]

    for built, listed in ((other, "/marker"), (ctx, "/app/1"), (other, "/marker")):
        assert cairn("build", "--progress", "quiet", str(built), root=root).returncode == 0
        assert first_listed() == listed


def test_a_walked_context_hashes_as_the_context_itself(tmp_path, store):
    """On a memo miss the key is hashed from what the fingerprint's walk saw (the context is
    not walked twice): the same sources list, to the byte, as hashing the context itself,
    on a tree with what projects hold (links dangling or into directories, a fifo, empty and
    nested directories, modes, ignored files with exceptions, overlapping sources)."""
    from builder.cache.sources import StatCache, hash_context_sources, hash_walked
    from builder.context.build_context import BuildContext

    ctx_dir = tmp_path / "ctx"
    for rel, text in (("a.txt", "a"), ("src/m.py", "m"), ("src/sub/deep.py", "d"), ("src/sub/x.log", "log"),
                      ("src/sub/keep.log", "kept"), ("bin/tool", "#!/bin/sh\n"), ("Dockerfile", "FROM x\n")):
        (ctx_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx_dir / rel).write_text(text)
    (ctx_dir / "bin" / "tool").chmod(0o750)
    (ctx_dir / "empty").mkdir()
    (ctx_dir / "src" / "link-dir").symlink_to("sub")
    (ctx_dir / "dangling").symlink_to("nowhere/at/all")
    (ctx_dir / "via").symlink_to("src")
    os.mkfifo(ctx_dir / "src" / "pipe")
    (ctx_dir / ".dockerignore").write_text("**/*.log\n!src/sub/keep.log\n")
    ctx = BuildContext.open(str(ctx_dir))
    for selected in ([""], ["src", "a.txt"], ["src", "src/sub"], ["via/sub", "empty", "bin/tool"]):
        for with_mode in (True, False):
            walk = fingerprint.walk_context(ctx, selected)
            walked = hash_walked(walk, StatCache(store), with_mode)
            assert walked == hash_context_sources(ctx, selected, StatCache(store), with_mode), (selected, with_mode)


def test_the_same_entries_give_the_same_bytes_however_many_hold_them():
    """A memo's key hashes the walk's entries: the same entries give the same bytes whether or
    not something else (a step's list, the stat cache) holds a reference to one of them."""
    from builder.cache.fingerprint import entries_bytes

    def walk():
        return [("src/" + name, 6, 1796124070947015217, 1796124070947015217, 2146437, 0o100644)
                for name in ("a.txt", "b.txt")]

    entries = walk()
    alone = entries_bytes(entries)
    held = [entries[0], entries[1][0]]  # (another holder of a tuple and of a path)
    assert entries_bytes(entries) == alone == entries_bytes(walk())
    assert held
