"""Units of the stat cache the daemon keeps in memory (builder/cache/stat_memory.py), from the
side of what a report may hold (a hostile or broken worker's bytes change nothing) and of the
rows another cairn process wrote to the store meanwhile (the database is asked, not trusted less)."""

from __future__ import annotations

import marshal
import os
import time

import pytest

from builder.cache import stat_memory
from builder.cache.sources import StatCache
from builder.store import stat_table
from builder.store.store import Store

HASH = "0" * 32


def _row(path, ctime=1, h=HASH):
    return (path, 5, 1, ctime, 7, 0o100644, h)


def _merge(mem, parts, store_root=None):
    mem.merge(stat_memory.report_bytes(store_root or mem.store_root, parts)[8:])


@pytest.mark.parametrize("report", [
    b"", b"\x00garbage", marshal.dumps(("/elsewhere", [("full", "/ctx", [_row("/ctx/a")])])),
    marshal.dumps(("STORE", "not a list")), marshal.dumps(("STORE", [("odd", "/ctx", [])])),
    marshal.dumps(("STORE", [("full", "/ctx", [_row("/etc/passwd")])])),  # (a row outside its root)
    marshal.dumps(("STORE", [("full", "/ctx", [("/ctx/a", "5", 1, 1, 7, 0, HASH)])])),
    marshal.dumps(("STORE", [("full", "/ctx", [("/ctx/a", 5, 1, 1, 7, 0, "x" * 4096)])])),
])
def test_a_malformed_report_changes_nothing(tmp_path, report):
    mem = stat_memory.Memory(str(tmp_path))
    mem.merge(report.replace(b"STORE", os.path.realpath(tmp_path).encode()) if b"STORE" in report else report)
    assert not mem.roots.get("/ctx"), mem.roots


def test_bounds_and_recency(tmp_path):
    mem = stat_memory.Memory(str(tmp_path), max_rows=5, root_rows=3)
    _merge(mem, [("full", "/a", [_row(f"/a/{i}") for i in range(3)])])
    _merge(mem, [("full", "/big", [_row(f"/big/{i}") for i in range(4)])])  # over one root's cap
    assert list(mem.roots) == ["/a"]
    _merge(mem, [("full", "/b", [_row(f"/b/{i}") for i in range(2)])])
    _merge(mem, [("delta", "/a", [])])  # /a used again: /b is now the least recently used
    _merge(mem, [("full", "/c", [_row("/c/0")])])
    assert list(mem.roots) == ["/a", "/c"] and mem.rows == 4
    _merge(mem, [("delta", "/nope", [_row("/nope/x")])])  # a root never read whole is not held
    assert "/nope" not in mem.roots
    _merge(mem, [("delta", "/a", [_row("/a/0", ctime=9, h="new"), _row("/a/1", ctime=0, h="old")])])
    assert mem.roots["/a"]["/a/0"][6] == "new" and mem.roots["/a"]["/a/1"][6] == HASH


def test_a_held_row_gone_stale_asks_the_store(tmp_path, monkeypatch):
    """The daemon holds the context's rows; then another cairn process rewrote a file and stored
    its row: the daemon's build takes the store's row (it does not read the file); after
    MAX_LOOKUPS such misses it reads the root whole and reports it whole."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for i in range(4):
        (ctx / f"f{i}").write_text(f"{i}\n")
    store = Store(str(tmp_path / "store"))
    try:
        mem = stat_memory.Memory(str(tmp_path / "store"))
        st = {i: os.stat(ctx / f"f{i}") for i in range(4)}
        seen = {i: (str(ctx / f"f{i}"), s.st_size, s.st_mtime_ns, s.st_ctime_ns, s.st_ino, s.st_mode)
                for i, s in st.items()}
        stale = {p: (p, 1, 1, 1, 1, 0o100644, "stale") for p, *_ in seen.values()}
        mem.roots[str(ctx)] = stale
        stat_table.put_many(store, [(*seen[0], "from-the-store")])
        monkeypatch.setattr(stat_memory, "_held", mem)
        monkeypatch.setattr(stat_memory, "_report_fd", 99)  # (held() answers only in a worker)
        cache = StatCache(store)
        cache.started = time.time_ns() + 10 ** 10  # (the files count as old)
        cache.preload(str(ctx))
        assert cache.hash_of(seen[0][0], seen[0]) == "from-the-store"
        assert cache.hash_of(seen[1][0], seen[1]) not in ("stale", "from-the-store")  # read
        monkeypatch.setattr(stat_memory, "MAX_LOOKUPS", 2)
        cache.hash_of(seen[2][0], seen[2])  # the third miss: the root is read whole again
        assert not cache.warm
        assert [(kind, root) for kind, root, _rows in cache._report()] == [("full", str(ctx))]
    finally:
        store.close()
