"""A process in a container writes a log that is large, or one long line without a newline
(`yes | tr -d '\\n'`); `docker logs -t` through cairn serve must stream it in bounded memory
(it held the whole log, or the whole line, before sending a byte)."""

from __future__ import annotations

import json
import tracemalloc
from types import SimpleNamespace

import pytest

from builder.containers.dirs import ContainerDir
from builder.serve.log_stream import log_chunks

SIZE = 4 << 20
BOUND = 1 << 20


def _container(tmp_path, content: bytes) -> ContainerDir:
    store = SimpleNamespace(layout=SimpleNamespace(container=lambda cid: tmp_path / cid))
    c = ContainerDir(store, "c" * 64)
    c.path.mkdir()
    (c.path / "state.json").write_text(json.dumps({"status": "exited"}))
    (c.path / "log").write_bytes(content)
    return c


@pytest.mark.parametrize("content", [b"x" * SIZE, (b"y" * 99 + b"\n") * (SIZE // 100)], ids=["one-line", "lines"])
def test_docker_logs_with_timestamps_streams_in_bounded_memory(tmp_path, content):
    c = _container(tmp_path, content)
    sent = 0
    tracemalloc.start()
    try:
        for _stream, data in log_chunks(c, open(c.path / "log", "rb"), -1, None, True, False):
            sent += len(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sent >= len(content)  # (every byte, with its timestamps)
    assert peak < BOUND, f"{peak >> 20} MiB held to stream a {SIZE >> 20} MiB log"


class _Sink:
    """A stdout whose buffer counts what is written and keeps nothing."""

    def __init__(self):
        self.sent = 0
        self.buffer = self

    def write(self, data):
        self.sent += len(data)

    def flush(self):
        pass


@pytest.mark.parametrize("since", [None, 0.0], ids=["timestamps", "since"])
@pytest.mark.parametrize("content", [b"x" * SIZE, (b"y" * 99 + b"\n") * (SIZE // 100)], ids=["one-line", "lines"])
def test_cairn_logs_with_timestamps_streams_in_bounded_memory(tmp_path, monkeypatch, content, since):
    """`cairn logs -t` / `--since` (commands/log_lines.py) held every line (with -t and no
    --since: the whole log) and a line without a newline whole before writing a byte."""
    from builder.commands.log_lines import write_timed

    c = _container(tmp_path, content)
    (c.path / "log.times").write_text(f"0 {len(content)} 1764500000000000000\n")
    sink = _Sink()
    monkeypatch.setattr("sys.stdout", sink)
    tracemalloc.start()
    try:
        with open(c.path / "log", "rb") as f:
            write_timed(c, f, 0, since, True, False, lambda: False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sent_at_least(sink.sent, content)
    assert peak < BOUND, f"{peak >> 20} MiB held to write a {SIZE >> 20} MiB log"


def sent_at_least(sent: int, content: bytes) -> bool:
    return sent >= len(content) + 31 * content.count(b"\n")  # every byte, each line with its stamp
