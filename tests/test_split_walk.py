"""The context walk shared with a forked child (fingerprint._scan, cache/forked_part.py) must
give what one process gives: the same entries in the same order and the same `dirs` offsets,
on random project trees (links to files, to directories, out of the context and dangling, fifos,
empty and deep directories, names that are not UTF-8, a .dockerignore with exceptions), the same
ContextTooLarge at the entry bound, and the same error when a directory vanishes mid-walk. The
split point is lowered so that small trees split, at every place a walk can split."""

from __future__ import annotations

import errno
import os
import random
import shutil

import pytest

from builder.cache import fingerprint, forked_part
from builder.context.build_context import BuildContext, ContextError


def _unreaped(pids: list[int]) -> list[int]:
    """Of the walks' forks, those still this process's children (a zombie or a live child): a fork
    reaped by its Part is no child of ours any more, so waitpid refuses it."""
    left = []
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue  # (reaped)
        left.append(pid)
    return left


def _tree(root, seed: int, deep: bool = False) -> None:
    """A random project: files, subdirectories, links of every kind, a fifo, empty dirs."""
    rng = random.Random(seed)
    os.makedirs(root)
    todo = [(str(root), 0)]
    made = 0
    while todo and made < 300:
        d, depth = todo.pop(rng.randrange(len(todo)))
        for i in range(rng.randrange(0, 7)):
            name = rng.choice(["f%d" % i, "m%d.log" % i, "k%d.py" % i, "keep.log"])
            with open(os.path.join(d, name), "wb") as f:
                f.write(b"x" * rng.randrange(0, 50))
            made += 1
        kinds = rng.choices(["dir", "link-file", "link-dir", "link-out", "dangling", "fifo", "odd"],
                            weights=[6, 1, 1, 1, 1, 1, 1], k=rng.randrange(0, 6))
        kinds += ["dir"] * (2 if depth < 2 else 0)  # (the top levels branch: where walks split)
        for i, kind in enumerate(kinds):
            path = os.path.join(d, f"{kind}{i}")
            if kind == "dir" and depth < (40 if deep else 6):
                os.mkdir(path)
                todo.append((path, depth + 1))
            elif kind == "link-file":
                os.symlink("f0", path)
            elif kind == "link-dir":
                os.symlink("..", path)
            elif kind == "link-out":
                os.symlink("/", path)
            elif kind == "dangling":
                os.symlink("gone/nowhere", path)
            elif kind == "fifo":
                os.mkfifo(path)
            elif kind == "odd":
                os.mkdir(os.fsencode(path) + b"-\xff\xfe")  # (not UTF-8: surrogate-escaped in Python)
            made += 1
    if deep:  # (one chain 60 levels down, each level holding a file)
        d = str(root)
        for i in range(60):
            d = os.path.join(d, "chain")
            os.mkdir(d)
            open(os.path.join(d, "leaf"), "w").close()


def _expected(root: str, ignore) -> tuple[list, dict]:
    """The walk's definition: the root, then each directory's scan as one run, then the
    subtrees of its subdirectories from the last scanned to the first."""
    out: list = []
    dirs: dict = {}

    def entry(rel):
        path = os.path.join(root, rel) if rel else root
        st = os.lstat(path)
        row = (rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode)
        return row + (os.readlink(path),) if os.path.islink(path) else row

    def visit(rel):
        block = [entry(rel + "/" + n if rel else n) for n in os.listdir(os.path.join(root, rel) if rel else root)]
        block = [e for e in block if ignore is None or not ignore(e[0])]
        dirs[rel] = (len(out), len(out) + len(block))
        out.extend(block)
        for e in reversed(block):
            if len(e) == 6 and (e[5] & 0o170000) == 0o040000:
                visit(e[0])

    out.append(entry(""))
    visit("")
    return out, dirs


def _walk(root: str, ignore, split_after: int, limit=None):
    out: list = []
    dirs: dict = {}
    old = fingerprint.SPLIT_AFTER
    fingerprint.SPLIT_AFTER = split_after
    try:
        fingerprint._walk(root, "", ignore, out, dirs, limit, split=True)
    finally:
        fingerprint.SPLIT_AFTER = old
    return out, dirs


@pytest.fixture
def forks(monkeypatch):
    """Whether each walk that split could fork its child (on any number of CPUs, however busy)."""
    monkeypatch.setattr(forked_part, "spare_cpu", lambda: True)
    made = []
    start = forked_part.start

    def counted(fn, *args):
        part = start(fn, *args)
        made.append(part.pid if part is not None else 0)
        return part

    monkeypatch.setattr(forked_part, "start", counted)
    return made


IGNORE = "**/*.log\n!**/keep.log\n**/dir1\n!**/dir1/f2\n"


def test_a_split_walk_is_the_one_process_walk(tmp_path, forks):
    """Random trees, split after 0-40 entries: walk_tree (with and without a .dockerignore) and
    the bare walk equal the definition, entry for entry, offsets included."""
    for seed in range(10):
        root = tmp_path / str(seed)
        _tree(root, seed, deep=seed % 5 == 0)
        if seed % 2:
            (root / ".dockerignore").write_text(IGNORE)
        ctx = BuildContext.open(str(root))
        ignore = ctx.ignored if ctx.patterns else None
        want = _expected(str(root.resolve()), ignore)
        trees = []
        for split_after in (10**9, 0, 5, 30):
            assert _walk(str(root.resolve()), ignore, split_after) == want, (seed, split_after)
            fingerprint.SPLIT_AFTER, old = split_after, fingerprint.SPLIT_AFTER
            try:
                tree = fingerprint.walk_tree(ctx)
                trees.append((tree.entries, tree.kept, tree.dirs))
                assert (tree.entries[:tree.kept], tree.dirs) == want, (seed, split_after)
            except ContextError as e:  # (a link to a missing directory with a .dockerignore: no memo)
                trees.append(str(e))
            finally:
                fingerprint.SPLIT_AFTER = old
        assert all(t == trees[0] for t in trees), seed
    assert sum(1 for pid in forks if pid) > 30  # (the walks did split)
    assert not _unreaped([pid for pid in forks if pid])  # (every fork reaped)


def test_the_entry_bound_stops_a_split_walk_as_it_stops_one_process(tmp_path, forks):
    """For every bound around a tree's size, the split walk raises ContextTooLarge exactly when
    the walk in one process does (the bound passed in the parent's part, in the child's, or
    only by both together), and otherwise gives the same entries."""
    for seed in (3, 8):
        root = tmp_path / str(seed)
        _tree(root, seed)
        total = len(_expected(str(root), None)[0])
        for limit in sorted({1, 5, total // 3, total // 2, total - 2, total - 1, total, total + 1}):
            answers = []
            for split_after in (10**9, 0, 4, total // 4):
                try:
                    answers.append(_walk(str(root), None, split_after, limit))
                except fingerprint.ContextTooLarge as e:
                    answers.append(str(e))
            assert all(a == answers[0] for a in answers), (seed, limit)
            assert isinstance(answers[0], str) == (total > limit), (seed, limit)
    assert any(forks)


@pytest.mark.parametrize("where, limit, error", [("child", None, FileNotFoundError), ("parent", None, FileNotFoundError),
                                                 ("before", None, FileNotFoundError),
                                                 ("child", 25, fingerprint.ContextTooLarge)])
def test_a_directory_gone_mid_walk_fails_the_split_walk_as_it_fails_one_process(tmp_path, forks, where, limit, error):
    """A directory removed while the walk runs (when a directory read before it is read) is an
    error (FileNotFoundError), never a walk that silently lacks it: whether the parent process or
    the forked child was to read it, or it went before the split. When the bound is passed before
    the place of the error (the parent's part ends by the 23rd entry, the child's error comes
    after its 26th), ContextTooLarge is raised, as by one process."""
    results = []
    for split_after in (10**9, 2):
        root = tmp_path / f"{where}-{split_after}"
        for d in ("a", "b", "c", "d"):
            for i in range(3):
                os.makedirs(root / d / f"s{i}")
                (root / d / f"s{i}" / "f").write_text("x")
        # the stack after the root's scan holds a-d (and the walk splits): the child takes the bottom
        # (the first read), the parent keeps the top (the last read)
        order = [n for n in os.listdir(root)]
        if where == "before":  # (the root's last entry read: the first, stat-ed already, goes; the child opens it)
            trigger, gone = order[-1], order[0]
        elif where == "child":  # (read in the child's first subdirectory, its last goes: opened after 3 scans)
            sub = os.listdir(root / order[0])
            trigger, gone = f"{order[0]}/{sub[-1]}/f", f"{order[0]}/{sub[0]}"
        else:
            trigger = gone = f"{order[-1]}/s1"

        def ignore(rel, root=root, trigger=trigger, gone=gone):
            if rel == trigger and (root / gone).exists():
                shutil.rmtree(root / gone)
            return False

        try:
            _walk(str(root), ignore, split_after, limit)
            results.append(None)
        except (OSError, ValueError) as e:
            results.append((type(e), getattr(e, "errno", None)))
    assert results[0] == results[1] == (error, errno.ENOENT if error is FileNotFoundError else None)
    assert any(forks)


def test_a_child_that_fails_or_cannot_be_made_leaves_the_walk_as_it_is(tmp_path, monkeypatch, forks):
    """The child is speed only: if it dies, or no process can be forked, the parent walks its
    part itself and the result is unchanged."""
    root = tmp_path / "ctx"
    _tree(root, 5)
    want = _expected(str(root), None)

    def dies(*_args):
        os.kill(os.getpid(), 9)

    monkeypatch.setattr(fingerprint, "_child_scan", dies)
    assert _walk(str(root), None, 2) == want
    assert len(forks) == 1 and forks[0] and not _unreaped(forks)  # (the dead child reaped too)
    monkeypatch.setattr(forked_part.os, "fork", lambda: (_ for _ in ()).throw(OSError(errno.EAGAIN, "no")))
    assert _walk(str(root), None, 2) == want
    assert len(forks) == 2 and forks[1] == 0
