"""Incremental COPY (issue 17): a COPY (or ADD from the context) that misses because some context files changed links the
unchanged files from the step's earlier snapshot. A user edits a project at random (adds,
removes, rewrites, chmods, renames, touches files; swaps files and links; adds and deletes
directories) and rebuilds: every layer must be byte for byte the layer a from-scratch COPY
makes, and no build may change an earlier snapshot (`cairn store check` recomputes them)."""

from __future__ import annotations

import json
import os
import random
import shutil
import stat

import pytest

from builder.layers.tarstream import write_tar

from .inproc import cairn

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="COPY --chown needs root")


@pytest.fixture(autouse=True)
def _files_written_a_moment_ago_are_remembered(monkeypatch):
    """(the stat cache vouches only for files older than fingerprint.RACY_NS: as a real project's are)"""
    from builder.cache import fingerprint

    monkeypatch.setattr(fingerprint, "RACY_NS", 0)

DOCKERFILE = """FROM scratch
COPY . /app/
COPY --chmod={chmod} src/ /s/
COPY a/ b/ /m/
COPY --chown={chown} *.txt /t/
ADD b/ /add/
"""
T0 = 1_600_000_000  # file times are drawn around it (an epoch build clamps some of them)
LATER = 1_700_000_000


def _files(ctx, kind=None):
    out = []
    for dirpath, dirs, files in os.walk(ctx):
        for name in files + dirs:
            path = os.path.join(dirpath, name)
            if name == "Dockerfile" and dirpath == str(ctx):
                continue
            st = os.lstat(path)
            if kind is None or kind(st.st_mode):
                out.append(path)
    return sorted(out)


def _dirs(ctx):
    return [str(ctx)] + _files(ctx, stat.S_ISDIR)


def _write(rng, path, size=None):
    with open(path, "wb") as f:
        f.write(rng.randbytes(rng.randrange(0, 3000) if size is None else size))
    os.utime(path, ns=(0, (T0 + rng.randrange(-1000, 1000)) * 10**9 + rng.randrange(10**9)))


def _edit(rng, ctx) -> str:
    """One random edit of the project; returns what it did."""
    regular = _files(ctx, stat.S_ISREG)
    what = rng.choice(["add", "remove", "modify", "same-size", "chmod", "rename", "touch", "link", "retarget",
                       "file-to-link", "mkdir", "rmdir", "hardlink", "dockerfile"])
    if what == "add" or not regular:
        d = rng.choice(_dirs(ctx))
        _write(rng, os.path.join(d, rng.choice(["n", "x", "y", "z"]) + str(rng.randrange(100)) + rng.choice(["", ".txt"])))
    elif what == "remove":
        os.unlink(rng.choice(regular))
    elif what == "modify":
        path = rng.choice(regular)
        with open(path, "ab") as f:
            f.write(b"more")
    elif what == "same-size":  # new bytes, same size and mtime: only ctime tells
        path = rng.choice(regular)
        st = os.lstat(path)
        with open(path, "r+b") as f:
            f.write(rng.randbytes(min(st.st_size, 8)) or b"")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif what == "chmod":
        os.chmod(rng.choice(regular), rng.choice([0o600, 0o644, 0o755, 0o700, 0o4755, 0o444]))
    elif what == "rename":
        path = rng.choice(regular)
        os.rename(path, os.path.join(rng.choice(_dirs(ctx)), "r" + str(rng.randrange(1000)) + ".txt"))
    elif what == "touch":
        path = rng.choice(regular)
        os.utime(path, ns=(0, (T0 + rng.randrange(-1000, 1000)) * 10**9))
    elif what == "link":
        d = rng.choice(_dirs(ctx))
        name = os.path.join(d, "l" + str(rng.randrange(50)))
        if not os.path.lexists(name):
            os.symlink(rng.choice(["../x", "f1", "/etc/passwd", "src"]), name)
    elif what == "retarget":
        links = _files(ctx, stat.S_ISLNK)
        if links:
            path = rng.choice(links)
            os.unlink(path)
            os.symlink("t" + str(rng.randrange(100)), path)
    elif what == "file-to-link":  # (a *.txt source is followed: it stays a file)
        path = rng.choice(regular)
        if path.endswith(".txt"):
            return what
        os.unlink(path)
        os.symlink("elsewhere", path)
    elif what == "mkdir":
        d = os.path.join(rng.choice(_dirs(ctx)), "d" + str(rng.randrange(20)))
        if not os.path.lexists(d):
            os.mkdir(d)
            for i in range(rng.randrange(4)):
                _write(rng, os.path.join(d, f"f{i}"))
    elif what == "rmdir":
        dirs = [d for d in _dirs(ctx)[1:] if os.path.basename(d) not in ("src", "a", "b")]
        if dirs:
            shutil.rmtree(rng.choice(dirs))
    elif what == "hardlink":  # two context paths, one inode: each is copied as a file of its own
        path = rng.choice(regular)
        other = os.path.join(os.path.dirname(path), "h" + str(rng.randrange(100)))
        if not os.path.lexists(other):
            os.link(path, other)
    elif what == "dockerfile":  # the same steps with other flags: the earlier snapshots have other owners, modes
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(chmod=rng.choice(["640", "600", "u+x"]),
                                                          chown=rng.choice(["7:8", "9:8", "0:0"])))
    return what


def _project(ctx, rng):
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(chmod="640", chown="7:8"))
    for d in ("src/pkg", "a/same", "b/same"):
        (ctx / d).mkdir(parents=True)
    for rel in ("f1", "f2.txt", "g.txt", "src/main.py", "src/pkg/m.py", "a/same/x", "b/same/x", "a/only", "b/y"):
        _write(rng, str(ctx / rel))
    os.symlink("main.py", ctx / "src" / "link")


def _build(root, ctx, meta, *args):
    res = cairn("build", "--metadata-file", str(meta), *args, str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    doc = json.loads(meta.read_text())
    # (a hit's layer is the earlier build's, with the mtimes the files had then: not compared)
    return [None if s["cached"] else s["diff_id"] for s in doc["steps"]], doc["containerimage.digest"]


def _snapshots(root):
    return [os.path.join(root, "snapshots", d) for d in sorted(os.listdir(os.path.join(root, "snapshots")))]


def test_random_edits_give_the_layers_of_a_copy_from_scratch(tmp_path):
    rng = random.Random(int(os.environ.get("CAIRN_PROPERTY_SEED", "4")))  # (another seed: explore)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    _project(ctx, rng)
    inc, scratch, meta = tmp_path / "inc", tmp_path / "scratch", tmp_path / "meta.json"
    _build(inc, ctx, meta)
    done, misses = [], 0
    for round_ in range(14):
        done += [_edit(rng, ctx) for _ in range(rng.randrange(1, 4))]
        # an epoch clamps the mtimes of the directories a COPY makes (else the time of the
        # build): either later than every file, or amid them (clamping some)
        args = ("--build-arg", f"SOURCE_DATE_EPOCH={LATER if round_ % 3 else T0}")
        got, image = _build(inc, ctx, meta, *args)
        want, scratch_image = _build(scratch, ctx, meta, "--no-cache", *args)
        assert got == [w if g else None for g, w in zip(got, want)], f"after {done}"
        assert image == scratch_image or None in got
        misses += sum(g is not None for g in got)
    shared = 0
    for snap in _snapshots(inc):
        inodes = set()
        for dirpath, _dirs, files in os.walk(snap):
            for name in files:
                st = os.lstat(os.path.join(dirpath, name))
                assert st.st_ino not in inodes, "one inode twice in a snapshot: its tar would hold a hard link"
                inodes.add(st.st_ino)
                shared += st.st_nlink > 1 and stat.S_ISREG(st.st_mode)
    assert shared > 50 and misses > 20  # the rebuilds linked (else this test proves nothing)
    check = cairn("store", "check", root=inc)
    assert check.returncode == 0 and "0 problems" in check.stdout, check.stdout


def test_a_changed_shared_file_is_found_by_store_check(tmp_path):
    """The check that guards the sharing: change one file of a snapshot, and `cairn store check`
    names every snapshot that holds it."""
    rng = random.Random(5)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    _project(ctx, rng)
    root, meta = tmp_path / "root", tmp_path / "meta.json"
    first, _ = _build(root, ctx, meta)
    with open(ctx / "g.txt", "ab") as f:
        f.write(b"edit")
    second, _ = _build(root, ctx, meta)
    assert first[0] != second[0]
    victim = os.path.join(root, "snapshots", first[0].split(":")[1], "app", "f1")
    assert os.lstat(victim).st_nlink == 2  # shared by both builds' COPY . /app/
    with open(victim, "ab") as f:
        f.write(b"!")
    res = cairn("store", "check", root=root)
    assert res.returncode == 1
    assert f"snapshot {first[0]}: its files were changed" in res.stdout
    assert f"snapshot {second[0]}: its files were changed" in res.stdout


def test_the_tar_of_a_snapshot_with_shared_inodes_is_that_of_a_copy(tmp_path):
    """Files whose link count is above one because another snapshot holds them are written as
    files; only a second path to an inode within the tree is a hard-link entry."""
    one, two, copy = tmp_path / "one", tmp_path / "two", tmp_path / "copy"
    for d in (one, two, copy):
        d.mkdir()
    for name, data in (("a", b"alpha"), ("b", b"beta" * 1000)):
        for d in (one, copy):
            (d / name).write_bytes(data)
            os.utime(d / name, (T0, T0))
        os.link(one / name, two / name)
    for d in (one, two, copy):
        os.utime(d, (T0, T0))

    def tar(root) -> bytes:
        out = tmp_path / "out.tar"
        with open(out, "wb") as f:
            write_tar(str(root), f)
        return out.read_bytes()

    assert os.lstat(two / "a").st_nlink == 2
    assert tar(one) == tar(two) == tar(copy)
    os.link(two / "a", two / "c")  # within the tree: a hard link, as the layer means it
    data = tar(two)
    assert data != tar(copy) and b"c" + b"\0" * 99 in data


def test_prune_counts_a_shared_file_once_and_only_when_freed(store):
    """Reclaimed bytes: a file two snapshots share is freed with the last of them."""
    from builder.store import cache_table
    from builder.store.maintenance import prune

    kept, dropped = store.snapshots_dir / ("a" * 64), store.snapshots_dir / ("b" * 64)
    kept.mkdir()
    dropped.mkdir()
    (kept / "shared").write_bytes(b"x" * 1000)
    os.link(kept / "shared", dropped / "shared")
    (dropped / "own").write_bytes(b"y" * 10)
    os.link(dropped / "own", dropped / "own-too")  # (a hard link within one snapshot: freed with it)
    cache_table.put(store, "k", "", "{}", "sha256:" + "a" * 64, 1000, 0.0, "p")
    assert prune(store).bytes == 10
    cache_table.delete(store, ["k"])
    assert prune(store).bytes == 1000
