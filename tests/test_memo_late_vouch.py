"""The build memo vouched for at a build's end (builder/cache/late_vouch.py).

A script that edits a file and builds at once (a checkout, a code generator) starts the
build within the racy window of the edit: the walk's stat cannot vouch for the file then.
Such a build is recorded at its end, once the window has passed and the file still holds
the bytes its steps read, so the next no-op rebuild is answered from the memo and gives what
a build without the memo gives. A file that changed, or holds other bytes than the steps
read, is never vouched for. Builds run in the test's process with a wider window
(fs_clock.FINE_NS) than the time from an edit to the build's walk here.
"""

from __future__ import annotations

import os
import time

import pytest
import xxhash

from builder.cache import fs_clock, late_vouch

from .conftest import cairn_cli
from .inproc import cairn
from .test_build_memo import _count_builds

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the build memo is root's")

WINDOW = 300_000_000  # ns: an edit made just before a build in this process is inside it


@pytest.fixture(scope="module")
def store(tmp_path_factory, busybox_tar):
    root = tmp_path_factory.mktemp("latevouch")
    assert cairn_cli("import", str(busybox_tar), "busybox:local", root=root).returncode == 0
    return root


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    monkeypatch.setattr(fs_clock, "FINE_NS", WINDOW)
    monkeypatch.delenv("CAIRN_BUILD_MEMO", raising=False)
    ctx = tmp_path / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM busybox:local\nCOPY . /app/\nCMD [\"cat\", \"/app/src/a.txt\"]\n")
    (ctx / "src" / "a.txt").write_text("first\n")
    (ctx / "src" / "b.txt").write_text("unchanged\n")
    if not fs_clock.fine_fs(_entry(ctx, "src/a.txt"), str(ctx / "src" / "a.txt")):
        pytest.skip("the test's directory is not on a local filesystem keeping sub-second times")
    time.sleep(WINDOW * 2 / 1e9)  # (the project as it was before the edit: older than the window)
    return ctx


def _entry(root, rel):
    st = os.lstat(os.path.join(root, rel))
    return (rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode)


def _build(store, ctx, memo=True) -> str:
    os.environ["CAIRN_BUILD_MEMO"] = "1" if memo else "0"
    try:
        res = cairn("build", "-q", "-t", "app:late", str(ctx), root=store)
    finally:
        os.environ.pop("CAIRN_BUILD_MEMO", None)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def _edit_built_at_once_then_rebuild(store, ctx, monkeypatch) -> None:
    """Build, edit a file and build at once (it runs), then the no-op rebuild: answered from
    the memo, and what the build without the memo gives."""
    _build(store, ctx)
    ran = _count_builds(monkeypatch)
    (ctx / "src" / "a.txt").write_bytes(b"second, a longer line\n")  # (then the build at once)
    edited = _build(store, ctx)
    assert len(ran) == 1
    ran.clear()
    assert _build(store, ctx) == edited and ran == []  # (the memo answered)
    assert _build(store, ctx, memo=False) == edited  # (what the build without the memo gives)


def test_the_rebuild_after_an_edit_built_at_once_is_answered_from_the_memo(store, ctx, monkeypatch):
    """Fails without late vouching: the edit's build recorded nothing, so the no-op ran."""
    _edit_built_at_once_then_rebuild(store, ctx, monkeypatch)


def test_a_file_rewritten_after_the_steps_read_it_is_not_vouched_for(store, ctx, monkeypatch):
    """The user saves again while the build runs (same size): the record would name bytes the
    image does not hold; the next build must run and copy the new bytes."""
    from builder.executor import build

    real = build.build

    def build_then_rewrite(*args, **kwargs):
        result = real(*args, **kwargs)
        (ctx / "src" / "a.txt").write_bytes(b"third\n")  # (the COPY read "other\n": the same size)
        return result

    _build(store, ctx)
    (ctx / "src" / "a.txt").write_bytes(b"other\n")
    monkeypatch.setattr(build, "build", build_then_rewrite)
    _build(store, ctx)
    monkeypatch.setattr(build, "build", real)
    ran = _count_builds(monkeypatch)
    rebuilt = _build(store, ctx)
    assert len(ran) == 1
    assert rebuilt == _build(store, ctx, memo=False)


def _digest(path) -> str:
    return xxhash.xxh3_128_hexdigest(open(path, "rb").read())


def test_only_a_file_that_holds_what_the_steps_read_is_vouched_for(ctx):
    """late_vouch.vouch_late on its own, for a walk that began just after the file's change
    (the window has passed since): each condition removed in turn says no."""
    root = str(ctx)
    path = os.path.join(root, "src/a.txt")
    entry = _entry(root, "src/a.txt")
    started = entry[3] + 1_000  # (1 us after the change)
    seen = (path, *entry[1:])
    good = {path: (seen, _digest(path))}
    assert late_vouch.vouch_late([entry], started, root, good)
    assert not late_vouch.vouch_late([entry], started, root, {path: (seen, "0" * 32)})  # other bytes read
    assert not late_vouch.vouch_late([entry], started, root, {path: None})  # read twice, differently
    assert not late_vouch.vouch_late([entry], started, root, {})  # no step read it
    moved = (path, entry[1], entry[2] + 1, *entry[3:])
    assert not late_vouch.vouch_late([entry], started, root, {path: (moved, _digest(path))})  # read with other stat
    folder = _entry(root, "src")
    assert not late_vouch.vouch_late([entry, folder], started, root, good)  # a directory changed just now
    with open(path, "r+b") as f:  # the same size, the mtime set back: only ctime tells
        f.write(b"FIRST\n")
    os.utime(path, ns=(entry[2], entry[2]))
    assert not late_vouch.vouch_late([entry], started, root, good)


def test_a_file_both_copied_and_bind_mounted_is_vouched_for(store, ctx, monkeypatch):
    """A RUN --mount=type=bind keys the file by its full path, a COPY by the walk's entry
    (relative to the root): the same read, not two that disagree. Fails on the old code: the
    edit's build recorded nothing, so the no-op rebuild ran (a RUN step: under the lock)."""
    (ctx / "Dockerfile").write_text("FROM busybox:local\nCOPY . /app/\n"
                                    "RUN --mount=type=bind,source=src/a.txt,target=/m cat /m > /seen\n"
                                    "CMD [\"cat\", \"/seen\"]\n")
    _edit_built_at_once_then_rebuild(store, ctx, monkeypatch)


def test_a_dockerfile_dockerignore_named_from_another_directory(store, ctx, monkeypatch):
    """`cairn build ctx` from the context's parent: <Dockerfile>.dockerignore is named
    relative to the working directory, and its stat must be told by that file, not by
    ctx/ctx/Dockerfile.dockerignore. Fails on the old code: an edit's build beside a new one
    recorded nothing, so the no-op rebuild ran."""
    monkeypatch.chdir(ctx.parent)
    (ctx / "Dockerfile.dockerignore").write_text("notes.md\n")
    time.sleep(WINDOW * 2 / 1e9)  # (there before the edit: the context's directory no longer recent)
    (ctx / "Dockerfile.dockerignore").write_text("notes.md\n*.tmp\n")  # (edited in place, then the build at once)
    ran = _count_builds(monkeypatch)

    def build(memo=True):
        os.environ["CAIRN_BUILD_MEMO"] = "1" if memo else "0"
        try:
            res = cairn("build", "-q", "-t", "app:late", "ctx", root=store)
        finally:
            os.environ.pop("CAIRN_BUILD_MEMO", None)
        assert res.returncode == 0, res.stderr
        return res.stdout.strip()

    edited = build()
    assert len(ran) == 1
    ran.clear()
    assert build() == edited and ran == []
    assert build(memo=False) == edited
