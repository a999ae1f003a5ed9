"""The stat cache `cairn serve`'s zygote keeps in memory (builder/cache/stat_memory.py) holds the
rows of the contexts its builds read, and a context's paths are its sender's to choose: a tar
sent to POST /build (over TCP, by a client the daemon does not trust with more than the API)
may name files thousands of bytes deep (a PAX path is capped at 1 MiB, not at PATH_MAX; the
extractor and the walks open one component at a time). The rows were bounded by count only
(CAIRN_SERVE_STAT_ROWS, 200,000 by default), so 200,000 rows of 4 KiB paths held about a
gigabyte in the zygote, kept after the builds ended (the old code held 4 MB here, for a budget of
1,000 rows: 1 MB). The zygote merges each build worker's report as it does here."""

from __future__ import annotations

import tracemalloc

from builder.cache import stat_memory

ROWS = 1000  # the daemon's CAIRN_SERVE_STAT_ROWS here


def _report(store: str, root: str, rows: list) -> bytes:
    """A build worker's report (what it writes on its pipe), without the length header."""
    return stat_memory.report_bytes(store, [("full", root, rows)])[stat_memory._HEADER.size:]


def test_rows_of_deep_paths_hold_no_more_than_the_budget(tmp_path):
    store = str(tmp_path)
    memory = stat_memory.Memory(store, max_rows=ROWS, root_rows=ROWS // 2)
    deep = "/".join(["d" * 250] * 15)  # 3.8 kB below the context's root, under PATH_MAX even
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(10):  # ten POST /builds, each a fresh directory in the store's tmp/
            root = f"{store}/tmp/serve-build-{n:08x}/context"
            rows = [(f"{root}/{deep}/{i}", 1, 10**18 + i, 10**18 + i, 1000 + i, 0o100644, "%032x" % i)
                    for i in range(100)]
            memory.merge(_report(store, root, rows))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert memory.rows <= ROWS
    assert memory.roots, "a context of 100 rows is still held"
    # the budget: ROWS rows of stat_memory.ROW_BYTES (1 KiB) each, objects and paths, whatever the paths' lengths
    assert held <= ROWS * 1024 * 1.25, held


def test_a_root_of_ordinary_paths_is_held_as_before(tmp_path):
    store = str(tmp_path)
    memory = stat_memory.Memory(store, max_rows=ROWS, root_rows=ROWS // 2)
    root = f"{store}/work/project"
    rows = [(f"{root}/src/module_{i:04d}.py", 1, 10**18, 10**18, 1000 + i, 0o100644, "%032x" % i)
            for i in range(ROWS // 2)]
    memory.merge(_report(store, root, rows))
    assert len(memory.rows_of(root)) == ROWS // 2
