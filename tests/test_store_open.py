"""Opening the store: an up-to-date database is read, never written; an old or new one is migrated
once, also when several processes open it at the same moment."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from builder.store import db
from builder.store.store import Store

from .conftest import REPO


def _statements(monkeypatch) -> list[str]:
    """Every SQL statement the store's connections run from now on."""
    seen: list[str] = []
    real = sqlite3.connect

    def traced(*args, **kwargs):
        conn = real(*args, **kwargs)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(db.sqlite3, "connect", traced)
    return seen


def test_opening_an_up_to_date_store_writes_nothing(tmp_path, monkeypatch):
    """`cairn run` opens the store on every start: it used to run the schema check as a write
    transaction, waiting behind any build that was writing."""
    Store(tmp_path / "s").close()
    seen = _statements(monkeypatch)
    with Store(tmp_path / "s") as store:
        assert store.conn.execute("SELECT count(*) FROM images").fetchone() == (0,)
    words = {s.split()[0].upper() for s in seen}
    assert not words & {"BEGIN", "CREATE", "INSERT", "ALTER", "UPDATE", "COMMIT"}, seen
    assert not any("journal_mode" in s for s in seen), seen


def test_a_store_from_an_older_cairn_is_migrated_once(tmp_path, monkeypatch):
    Store(tmp_path / "s").close()
    with sqlite3.connect(tmp_path / "s" / "cairn.db") as conn:  # as a cairn before the step memo left it
        conn.execute("DROP TABLE step_memo")
        conn.execute("PRAGMA user_version = 0")
    conn.close()
    with Store(tmp_path / "s") as store:
        assert store.conn.execute("SELECT count(*) FROM step_memo").fetchone() == (0,)
        assert store.conn.execute("PRAGMA user_version").fetchone() == (db.LAYOUT_VERSION,)
    seen = _statements(monkeypatch)
    Store(tmp_path / "s").close()
    assert not any(s.upper().startswith("BEGIN") for s in seen), seen


def test_a_newer_cairns_version_is_kept(tmp_path):
    """A newer cairn's store (a higher user_version, a schema this one knows) is used, not downgraded."""
    Store(tmp_path / "s").close()
    with sqlite3.connect(tmp_path / "s" / "cairn.db") as conn:
        conn.execute(f"PRAGMA user_version = {db.LAYOUT_VERSION + 5}")
    conn.close()
    with Store(tmp_path / "s") as store:
        assert store.conn.execute("PRAGMA user_version").fetchone() == (db.LAYOUT_VERSION + 5,)


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path):
    code = ("import sys; from builder.store.store import Store; s = Store(sys.argv[1]); "
            "s.conn.execute('SELECT count(*) FROM images, tags, step_memo'); s.close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "s")], cwd=REPO,
                              stderr=subprocess.PIPE) for _ in range(6)]
    errors = [p.communicate()[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    conn = sqlite3.connect(tmp_path / "s" / "cairn.db")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA user_version").fetchone() == (db.LAYOUT_VERSION,)
    assert conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == (str(db.SCHEMA_VERSION),)
    conn.close()
