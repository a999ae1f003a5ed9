"""The stat cache that `cairn serve` keeps in memory between builds (issue 20).

The daemon's zygote (serve/cli_zygote.py) holds a Memory: for each context root (or stage
snapshot) a build read, the stat cache's rows under it, (path, size, mtime_ns, ctime_ns,
inode, mode, hash) as sources.StatCache keeps them. A build worker is forked from the zygote,
so it finds those rows in its own (copy-on-write) memory instead of reading them from the
store's database; at the end of the build it reports back, over a pipe, what it learned:
every row of a root it read from the database ("full"), or the rows it hashed or looked up
since ("delta"). The zygote merges the report; sqlite stays the record of truth (the build
writes its rows there first, as without a daemon).

Why a row held here can never give a wrong hit: a row is used only when all five stat fields
of the file equal the row's, and a row is only ever made (here as in the database) for a file
whose ctime was older than fingerprint.RACY_NS (fs_clock.FINE_NS) when it was hashed, so a later rewrite changes
ctime. Rows are facts about files, not about the store: a row that went stale (the file
changed, another cairn process hashed it again, the store was pruned) only misses, and a miss
under a root held here asks the database for that path (what another process learned), then
hashes the file. After MAX_LOOKUPS such misses the root is read from the database whole again.

Bounded: at most ROOT_ROWS rows for one root (a larger root is not held), MAX_ROWS in all and
MAX_ROOTS roots, the least recently used roots evicted first (CAIRN_SERVE_STAT_ROWS sets MAX_ROWS); a report
larger than MAX_REPORT bytes, or malformed, is dropped whole. The rows' bytes are bounded too
(ROW_BYTES a row on average, the row's own objects and its path's size counted): a path is
the context's to choose (a tar sent to POST /build may name files thousands of bytes deep), so
a count of rows alone let 200,000 rows of 4 KiB paths hold a gigabyte.
"""

from __future__ import annotations

import gc
import marshal
import os
import struct
import sys
from collections import OrderedDict


def _max_rows(default: int = 200_000) -> int:
    """CAIRN_SERVE_STAT_ROWS (0: hold nothing); a value that is not a count leaves the default."""
    text = os.environ.get("CAIRN_SERVE_STAT_ROWS", "").strip()
    return max(0, int(text)) if text.isdigit() else default


MAX_ROWS = _max_rows()
ROOT_ROWS = MAX_ROWS // 2 or MAX_ROWS
MAX_REPORT = 64 + MAX_ROWS * 640  # bytes: a row is ~200-600 bytes marshalled (its path's length)
MAX_ROOTS = 1024  # roots held at most (each POST /build unpacks its context in a new directory)
ROW_BYTES = 1024  # a row's share of the memory budget (MAX_ROWS of them): its objects and a path of ~500
ROW_OVERHEAD = 350  # a row's tuple, ints, hash and dict entry (~300 measured), counted with its path's size
MAX_LOOKUPS = 256  # misses under a held root looked up one by one before the root is read whole
_HEADER = struct.Struct("<Q")

_held: Memory | None = None  # the zygote's, seen by the workers it forks
_report_fd = -1  # in a worker: where its report goes


class Memory:
    """The rows held for one store, by root, least recently used first."""

    def __init__(self, store_root: str, max_rows: int = MAX_ROWS, root_rows: int = ROOT_ROWS, log=None):
        self.store_root = os.path.realpath(store_root)
        self.max_rows, self.root_rows, self.log = max_rows, root_rows, log
        self.max_bytes = max_rows * ROW_BYTES
        self.roots: OrderedDict[str, dict[str, tuple]] = OrderedDict()
        self.sizes: dict[str, int] = {}  # root -> the bytes its rows count
        self.rows = self.bytes = 0

    def rows_of(self, root: str) -> dict | None:
        return self.roots.get(root)

    def merge(self, report: bytes) -> None:
        """Take a worker's report (report_bytes' output); a malformed one changes nothing."""
        try:
            store_root, parts = marshal.loads(report)
        except (ValueError, EOFError, TypeError):
            return
        if store_root != self.store_root or not isinstance(parts, list):
            return
        for part in parts:
            if not (isinstance(part, tuple) and len(part) == 3 and part[0] in ("full", "delta")
                    and isinstance(part[1], str) and isinstance(part[2], list)):
                return
        for kind, root, rows in parts:
            self._take(kind, root, rows)
        # out of the collector's generations: a worker's collections never walk (and so never
        # copy, page by page) the rows it inherited
        gc.collect()  # (first: no cyclic garbage is frozen with them)
        gc.freeze()

    def _take(self, kind: str, root: str, rows: list) -> None:
        prefix = root.rstrip("/") + "/"
        good = {r[0]: r for r in rows if _valid(r, prefix)}
        held = self.roots.pop(root, None)
        if held is not None:
            self.rows -= len(held)
            self.bytes -= self.sizes.pop(root)
        if kind == "delta":
            if held is None:
                return  # (only a root read whole is held: a delta alone would miss what sqlite has)
            for path, row in good.items():
                old = held.get(path)
                if old is None or old[3] <= row[3]:  # (both are true of some state; keep the newer)
                    held[path] = row
            good = held
        if not good:
            return  # (nothing to hold: a context just unpacked, all of it within the racy window)
        if len(good) > self.root_rows:
            self._say(f"stat cache: {root} not kept ({len(good)} rows, more than {self.root_rows})")
            return
        size = sum(map(sys.getsizeof, good)) + ROW_OVERHEAD * len(good)  # (a path's size: 1-4 bytes a character)
        if size > self.max_bytes // 2:
            self._say(f"stat cache: {root} not kept ({size} bytes, more than {self.max_bytes // 2})")
            return
        self.roots[root], self.sizes[root] = good, size
        self.rows += len(good)
        self.bytes += size
        while self.rows > self.max_rows or self.bytes > self.max_bytes or len(self.roots) > MAX_ROOTS:
            old, gone = self.roots.popitem(last=False)  # (least recently used first)
            self.rows -= len(gone)
            self.bytes -= self.sizes.pop(old)
            self._say(f"stat cache: evicted {old} ({len(gone)} rows)")
        self._say(f"stat cache: holding {root} ({len(good)} rows; {self.rows} in all)")

    def _say(self, text: str) -> None:
        if self.log is not None:
            self.log(text)


def _valid(row, prefix: str) -> bool:
    return (isinstance(row, tuple) and len(row) == 7 and isinstance(row[0], str) and row[0].startswith(prefix)
            and all(type(v) is int for v in row[1:6]) and isinstance(row[6], str) and len(row[6]) <= 128)


def hold(memory: Memory) -> None:
    """In the zygote: the rows its workers see."""
    global _held
    _held = memory


def held(store_root) -> Memory | None:
    """The memory a worker inherited for this store, or None (no daemon: the database alone)."""
    if _held is None or _report_fd < 0 or os.path.realpath(str(store_root)) != _held.store_root:
        return None
    return _held


def report_to(fd: int) -> None:
    """In a worker: report what it learned on fd (a pipe to the zygote)."""
    global _report_fd
    _report_fd = fd


def report_bytes(store_root: str, parts: list) -> bytes:
    payload = marshal.dumps((os.path.realpath(store_root), parts))
    return _HEADER.pack(len(payload)) + payload


def send(store_root: str, parts: list) -> None:
    """In a worker: write the report (once; a zygote that stopped reading loses it, nothing else)."""
    global _report_fd
    fd, _report_fd = _report_fd, -1
    if fd < 0 or not parts:
        return
    data = memoryview(report_bytes(store_root, parts))
    try:
        if len(data) <= MAX_REPORT:
            while data:
                data = data[os.write(fd, data):]
    except OSError:
        pass
    finally:
        os.close(fd)


class Report:
    """The zygote's side of one worker's pipe: bytes gathered until the whole report is in."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buf = bytearray()
        self.dropped = False

    def read(self) -> bool:
        """Read what the pipe has now (it is non-blocking); False once it is at its end (or broken)."""
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            if not self.dropped:
                self.buf += data
                if len(self.buf) > MAX_REPORT + _HEADER.size:
                    self.dropped, self.buf = True, bytearray()

    def drain(self) -> None:
        """The worker ended: everything it wrote is in the pipe (a write returns once it is)."""
        self.read()

    def finish(self, memory: Memory) -> None:
        """The pipe ended: merge the report if it came whole."""
        os.close(self.fd)
        if self.dropped or len(self.buf) < _HEADER.size:
            return
        (size,) = _HEADER.unpack_from(self.buf)
        if len(self.buf) == _HEADER.size + size:
            memory.merge(bytes(self.buf[_HEADER.size:]))
