"""The step memo: a step's input fingerprint (fingerprint.py) -> the cache key it made, so a
step whose inputs are unchanged is keyed without hashing its files or building its key's
JSON. A memo hit gives the key alone: the key's inputs (for recording and explaining a
miss) are computed from the files only when the key misses. New rows are written in one
transaction at the end of the build."""

from __future__ import annotations

from ..store import memo_table


class StepMemo:
    def __init__(self, store):
        self.store = store
        self.pending: list[tuple[str, str, str]] = []

    def key(self, position: str, fingerprint: str) -> str | None:
        return memo_table.key_of(self.store, position, fingerprint)

    def remember(self, position: str, fingerprint: str, key: str) -> None:
        self.pending.append((position, fingerprint, key))

    def flush(self) -> None:
        if self.pending:
            memo_table.put_many(self.store, self.pending)
            self.pending.clear()
