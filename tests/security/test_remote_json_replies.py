"""`cairn ps` / `cairn images` against a hostile daemon (CAIRN_HOST=tcp://...): a JSON reply was
bounded in bytes (64 MiB) only, and JSON is small for what it makes: 2 MiB of `{},` became
700,000 rows (~650 MB, seconds of formatting; 64 MiB would be ~20 GB), 4 MiB of `[],` 1.4
million lists. The old code printed them all (exit 0). Now a reply of more than a million
objects, or more than 100,000 rows, is an error (exit 1), before the rows are made. Replies
that are one small object (a created container, an exit status, an error's message) were
parsed whole up to 64 MiB too: 40 MiB of `{},` ran a client limited to 1 GiB out of memory
("internal error: MemoryError"); they are read to 1 MiB now."""

from __future__ import annotations

import subprocess
import sys

from ..conftest import REPO, cairn_cli
from ..test_remote_hostile_daemon import _reply, daemon  # noqa: F401 - the canned daemon

ROWS = [
    ("700,000 empty images", _reply(b"[" + b",".join([b"{}"] * 700_000) + b"]"), "images"),
    ("700,000 empty containers", _reply(b"[" + b",".join([b"{}"] * 700_000) + b"]"), "ps"),
    ("1.4 million empty lists", _reply(b"[" + b",".join([b"[]"] * 1_400_000) + b"]"), "images"),
]


def test_a_reply_of_millions_of_small_objects_is_refused(daemon):  # noqa: F811
    for what, reply, command in ROWS:
        daemon[0] = reply
        res = cairn_cli(command)
        err = res.stderr.decode()
        assert res.returncode == 1, (what, res.returncode, err[-300:])
        assert "error:" in err and "Traceback" not in err and len(res.stdout) < 1000, (what, err)


BIG = b"[" + b",".join([b"{}"] * (14 << 20)) + b"]"  # 42 MiB: ~14 million dicts once parsed


def test_a_small_reply_that_is_not_small_is_refused_within_bounded_memory(daemon, tmp_path):  # noqa: F811
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    for what, reply, args in (
            ("a created container", b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n" % len(BIG) + BIG,
             ["run", "busybox:local", "true"]),
            ("an error's message", b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n" % len(BIG) + BIG,
             ["build", str(tmp_path)])):
        daemon[0] = reply
        res = subprocess.run(["prlimit", f"--as={1 << 30}", sys.executable, "-m", "builder.cli", *args], cwd=REPO,
                             capture_output=True, timeout=300)  # (a client limited to 1 GiB)
        err = res.stderr.decode()
        assert res.returncode in (1, 125) and "error:" in err, (what, res.returncode, err[-300:])
        assert "MemoryError" not in err and "Traceback" not in err and len(err) < 4000, (what, err[-300:])


def test_a_json_stream_split_anywhere_gives_the_same_objects():
    """Reply.lines (a build's or a pull's progress from the daemon) reads one split a chunk:
    objects cut across chunks, blank lines between them and a run of 100,000 bare newlines
    (which a line-at-a-time split copied the buffer for, each line) give the objects sent."""
    import json
    import socket
    import threading

    from builder.remote.conn import Reply

    objects = [{"stream": "a"}, {"aux": {"ID": "sha256:" + "1" * 64}}, {"stream": "b" * 70_000}, {"end": 1}]
    body = b"\n\n".join(json.dumps(o).encode() for o in objects[:3]) + b"\n" * 100_000 + json.dumps(objects[3]).encode()
    for piece in (3, 4096, 65_536):
        ours, theirs = socket.socketpair()

        def send(sock=theirs, piece=piece):
            with sock:
                sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for i in range(0, len(body), piece):
                    part = body[i:i + piece]
                    sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
                sock.sendall(b"0\r\n\r\n")

        sender = threading.Thread(target=send)
        sender.start()
        try:
            with Reply(ours, "tcp://127.0.0.1:1") as reply:
                assert list(reply.lines()) == objects, piece
        finally:
            sender.join()
