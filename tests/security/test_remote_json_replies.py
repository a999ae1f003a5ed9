"""`cairn ps` / `cairn images` against a hostile daemon (CAIRN_HOST=tcp://...): a JSON reply was
bounded in bytes (64 MiB) only, and JSON is small for what it makes: 2 MiB of `{},` became
700,000 rows (~650 MB, seconds of formatting; 64 MiB would be ~20 GB), 4 MiB of `[],` 1.4
million lists. The old code printed them all (exit 0). Now a reply of more than a million
objects, or more than 100,000 rows, is an error (exit 1), before the rows are made."""

from __future__ import annotations

from ..conftest import cairn_cli
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
