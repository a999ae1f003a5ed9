"""Outside input that used to reach "internal error": each is now a clear error, no traceback.

A store whose cairn.db was overwritten or truncated; a query that meets a corrupt page
after the store opened; a registry that redirects to a non-http(s) URL is in
test_bounded_registry.
"""

from __future__ import annotations

import os
import sqlite3

import pytest

from tests.conftest import cairn_cli


def _clean_failure(res) -> str:
    err = res.stderr.decode(errors="replace")
    assert res.returncode == 1, err
    assert "internal error" not in err and "Traceback" not in err, err
    return err


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "store"
    res = cairn_cli("images", root=root)
    assert res.returncode == 0, res.stderr
    return root


def _replace_db(root, data: bytes) -> None:
    db = root / "cairn.db"
    for extra in ("-wal", "-shm"):
        try:
            os.unlink(f"{db}{extra}")
        except FileNotFoundError:
            pass
    db.write_bytes(data)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "header-then-garbage"])
def test_a_corrupt_database_is_a_clear_error(root, damage):
    good = (root / "cairn.db").read_bytes()
    data = {"garbage": os.urandom(64 << 10), "truncated": good[:5000],
            "header-then-garbage": good[:100] + os.urandom(40 << 10)}[damage]
    _replace_db(root, data)
    err = _clean_failure(cairn_cli("images", root=root))
    assert "the store's database" in err and "cannot be used" in err


def test_a_corrupt_page_met_by_a_later_query_is_a_clear_error(root):
    db = root / "cairn.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='images'").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    data[(page - 1) * page_size: page * page_size] = b"\xff" * page_size
    _replace_db(root, bytes(data))
    err = _clean_failure(cairn_cli("images", root=root))
    assert "the store's database" in err


def test_a_database_from_a_newer_cairn_is_a_clear_error(root):
    with sqlite3.connect(root / "cairn.db") as conn:
        conn.execute("UPDATE meta SET value='999' WHERE key='schema'")
    conn.close()
    err = _clean_failure(cairn_cli("images", root=root))
    assert "newer cairn" in err
