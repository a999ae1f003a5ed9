"""Mutation property of COPY's source hash: random edits to a random context tree. An edit
that changes what `COPY . /dst` would write (a file's bytes, name, type, mode, link target)
changes the key; any other edit (mtime only, an ignored file) keeps it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.cache.sources import StatCache, hash_context_sources
from builder.context.build_context import BuildContext
from builder.store.store import Store

NAMES = ["a", "b", "c.txt", "d.md", "sub"]
EDITS = ["rewrite", "same-size-rewrite", "touch", "chmod", "add", "remove", "rename", "edit-ignored",
         "relink", "restore-mtime-rewrite"]


def _make_tree(root: Path, files: list[tuple[str, bytes]]) -> None:
    for rel, data in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "link").symlink_to("a")
    (root / ".dockerignore").write_text("ignored/\n")
    (root / "ignored").mkdir()
    (root / "ignored" / "x").write_text("x")


def _key(store: Store, root: Path) -> str:
    import json

    ctx = BuildContext.open(str(root))
    cache = StatCache(store)
    tree = hash_context_sources(ctx, ctx.select("."), cache, with_mode=True)
    cache.flush()
    return json.dumps(tree, sort_keys=True)


def _apply(root: Path, edit: str, target: str, data: bytes) -> bool:
    """Apply an edit; return whether COPY . would write something different."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
                   and "ignored" not in p.parts and p.name != ".dockerignore")
    path = files[hash(target) % len(files)] if files else None
    if edit == "edit-ignored":
        (root / "ignored" / "x").write_text("changed")
        return False
    if edit == "relink":
        now = os.readlink(root / "link")
        (root / "link").unlink()
        (root / "link").symlink_to("b" if now == "a" else "a")
        return True
    if edit == "add":
        new = root / ("new-" + "".join(c if c.isalnum() else "_" for c in target))  # a name, never a path
        existed = new.exists() and new.read_bytes() == data
        new.write_bytes(data)
        return not existed
    if path is None:
        return False
    old = path.read_bytes()
    st = path.stat()
    if edit == "rewrite":
        path.write_bytes(old + b"+")
        return True
    if edit in ("same-size-rewrite", "restore-mtime-rewrite"):
        changed = bytes([(old[0] + 1) % 256]) + old[1:] if old else b""
        path.write_bytes(changed)
        if edit == "restore-mtime-rewrite":
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        return changed != old
    if edit == "touch":
        os.utime(path, (st.st_atime + 100, st.st_mtime + 100))
        return False
    if edit == "chmod":
        new_mode = 0o600 if (st.st_mode & 0o777) != 0o600 else 0o640
        path.chmod(new_mode)
        return True
    if edit == "remove":
        path.unlink()
        return True
    if edit == "rename":
        path.rename(path.with_name(path.name + "-renamed"))
        return True
    raise AssertionError(edit)


files_strategy = st.lists(st.tuples(st.sampled_from(["a", "b", "c.txt", "sub/d.md", "sub/e"]),
                                    st.binary(min_size=1, max_size=20)),
                          min_size=2, max_size=5, unique_by=lambda t: t[0])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files_strategy, st.lists(st.tuples(st.sampled_from(EDITS), st.text(max_size=3), st.binary(max_size=8)),
                                min_size=1, max_size=4))
def test_key_changes_exactly_when_the_copy_would(files, edits):
    work = Path(tempfile.mkdtemp(prefix="cairn-mut-"))
    try:
        store = Store(work / "store")
        root = work / "ctx"
        root.mkdir()
        _make_tree(root, [(rel, data) for rel, data in files] + [("a", b"A"), ("b", b"B")])
        before = _key(store, root)
        for edit, target, data in edits:
            changed = _apply(root, edit, target, data)
            after = _key(store, root)
            if changed:
                assert after != before, f"{edit} on {target!r} did not change the key"
            else:
                assert after == before, f"{edit} on {target!r} changed the key"
            before = after
        store.close()
    finally:
        shutil.rmtree(work)
