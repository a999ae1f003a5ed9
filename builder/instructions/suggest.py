"""'Did you mean ...?' hints for misspelt instructions and flags."""

from __future__ import annotations


def _distance(a: str, b: str) -> int:
    """Edit distance counting a swap of neighbours as one edit (optimal string alignment)."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def closest(word: str, candidates, *, case_sensitive: bool = False) -> str | None:
    """The candidate nearest to `word`, if it is near enough to be a likely typo."""
    key = word if case_sensitive else word.lower()
    if len(key) >= 3:  # a word cut short ("tmp" for "tmpfs")
        for cand in candidates:
            c = cand if case_sensitive else cand.lower()
            if c != key and c.startswith(key):
                return cand
    best, best_d = None, None
    for cand in candidates:
        c = cand if case_sensitive else cand.lower()
        d = _distance(key, c)
        if best_d is None or d < best_d:
            best, best_d = cand, d
    if best is None or best_d == 0:
        return None
    limit = max(1, min(len(key), len(best)) // 3)
    return best if best_d <= limit else None


def with_hint(message: str, word: str, candidates, *, case_sensitive: bool = False) -> str:
    hint = closest(word, candidates, case_sensitive=case_sensitive)
    return f"{message} (did you mean {hint}?)" if hint else message
