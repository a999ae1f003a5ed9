"""The store's `step_memo` table: for each step position (context, Dockerfile, stage, index),
the input fingerprint its key was last computed from and that key (builder/cache/fingerprint.py
says what a fingerprint covers). One row per position, replaced when the inputs change, so the
table grows with the steps a store has built, not with its builds. The SQL on this table,
but for cache_table.delete, which removes the rows that name a deleted record."""

from __future__ import annotations

from .store import Store

def key_of(store: Store, position: str, fingerprint: str) -> str | None:
    """The key remembered for these inputs at this position, or None."""
    row = store.conn.execute("SELECT key FROM step_memo WHERE position=? AND fingerprint=?",
                             (position, fingerprint)).fetchone()
    return row[0] if row else None


def put_many(store: Store, rows: list[tuple[str, str, str]]) -> None:
    """Remember (position, fingerprint, key) rows, each replacing its position's."""
    with store.transaction() as c:
        c.executemany("INSERT INTO step_memo(position, fingerprint, key) VALUES (?,?,?) ON CONFLICT(position) "
                      "DO UPDATE SET fingerprint=excluded.fingerprint, key=excluded.key", rows)
