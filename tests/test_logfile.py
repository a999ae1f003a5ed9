"""`cairn logs --tail N` reads a log from its end: a case table for where the last N lines
start, a check that a long log is not read whole, and --since and -t as docker writes them."""

from __future__ import annotations

import io

import pytest

from builder.commands.common import parse_since
from builder.commands.log_lines import stamp
from builder.containers.logfile import copy_from, tail_offset
from builder.errors import UsageError

CASES = [  # log, N -> what --tail N prints
    (b"", 3, b""),
    (b"a\nb\nc\n", 2, b"b\nc\n"),
    (b"a\nb\nc\n", 0, b""),
    (b"a\nb\nc\n", 9, b"a\nb\nc\n"),
    (b"a\nb\nc", 1, b"c"),  # a last line without its newline is a line
    (b"a\nb\nc", 2, b"b\nc"),
    (b"\n\n\n", 2, b"\n\n"),
    (b"x" * 100_000 + b"\nend\n", 1, b"end\n"),
    (b"x" * 100_000 + b"\nend\n", 2, b"x" * 100_000 + b"\nend\n"),
]


@pytest.mark.parametrize("log,lines,want", CASES)
def test_tail(log, lines, want):
    f = io.BytesIO(log)
    out = io.BytesIO()
    copy_from(f, tail_offset(f, lines), out, lambda: False, follow=False)
    assert out.getvalue() == want


class CountingReader(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_tail_of_a_long_log_reads_only_its_end():
    log = b"".join(b"line %d\n" % i for i in range(600_000))  # ~5 MB
    f = CountingReader(log)
    offset = tail_offset(f, 3)
    assert log[offset:] == b"line 599997\nline 599998\nline 599999\n"
    assert f.bytes_read <= 2 * 64 * 1024


@pytest.mark.parametrize("text,want", [
    ("1700000000.5", 1700000000.5),
    ("2013-01-02T13:23:37Z", 1357133017.0),
    ("2013-01-02T13:23:37.123456789Z", 1357133017.123456),
    ("2013-01-02", 1357084800.0),
])
def test_since_absolute(text, want):
    assert parse_since(text) == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("text,seconds", [("42m", 2520), ("1h30m", 5400), ("10s", 10), ("1.5h", 5400)])
def test_since_relative(text, seconds):
    import time

    assert time.time() - parse_since(text) == pytest.approx(seconds, abs=5)


def test_since_refuses_what_docker_refuses():
    with pytest.raises(UsageError, match="invalid value for --since"):
        parse_since("yesterday")


def test_timestamps_as_docker_prints_them():
    assert stamp(1700000000123456789) == b"2023-11-14T22:13:20.123456789Z "
    assert stamp(5) == b"1970-01-01T00:00:00.000000005Z "


def test_a_line_takes_the_time_of_the_record_holding_its_first_byte(tmp_path):
    from builder.containers.logtimes import LineTimes as _Times

    log = tmp_path / "log"
    log.write_bytes(b"a\nbb\nc\n")
    (tmp_path / "log.times").write_text("0 2 100\n2 7 200\n")
    times = _Times(log, 0, lambda: False)
    assert [times.at(offset) for offset in (0, 2, 5)] == [100, 200, 200]


def test_a_flood_of_empty_lines_adds_one_index_record_not_one_a_line(tmp_path):
    """A container printing newlines cannot make the index outgrow its log."""
    import os

    from builder.containers.logindex import _scan

    log, index = tmp_path / "log", tmp_path / "log.times"
    log.write_bytes(b"\n" * 100_000)
    src = os.open(log, os.O_RDONLY)
    out = os.open(index, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        assert _scan(src, out, 0) == 100_000
        assert _scan(src, out, 100_000) == 100_000  # nothing new: nothing recorded
    finally:
        os.close(src)
        os.close(out)
    assert index.read_text().count("\n") == 1 and index.read_text().startswith("0 100000 ")
