"""Print the catalogue's totals: `python -m tests.compat.report [--list STATUS]`.

The pass rate is over the applicable rows (everything but `n/a`); `fails` and `todo`
both count as not passing.
"""

from __future__ import annotations

import sys
from collections import Counter

from .catalogue import read_catalogue, totals


def summary(rows) -> str:
    counts = totals(rows)
    applicable = len(rows) - counts["n/a"]
    rate = 100.0 * counts["passes"] / applicable if applicable else 0.0
    lines = [f"BuildKit dockerfile tests catalogued: {len(rows)}",
             f"  passes {counts['passes']}  fails {counts['fails']}  todo {counts['todo']}  n/a {counts['n/a']}",
             f"  pass rate over applicable rows: {counts['passes']}/{applicable} = {rate:.1f}%",
             "", "by file (passes/applicable):"]
    per_file: dict[str, Counter] = {}
    for row in rows:
        per_file.setdefault(row.file, Counter())[row.status] += 1
    for name, c in sorted(per_file.items()):
        appl = sum(c.values()) - c["n/a"]
        if appl:
            lines.append(f"  {name:<18} {c['passes']}/{appl}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    rows = read_catalogue()
    if len(argv) == 2 and argv[0] == "--list":
        for row in rows:
            if row.status == argv[1]:
                print(f"{row.file}\t{row.function}\t{row.test}\t{row.reason}")
        return 0
    print(summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
