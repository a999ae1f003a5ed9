"""What a replay found: a summary, the root causes of its misses (bench/advice.py), and its
text outputs: a terminal table, JSON (`{"builds": [...], "summary": {...}, "ranking": [...]}`)
and CSV. The HTML reports are bench/html_report.py's.
"""

from __future__ import annotations

import csv
import json
import statistics

from .advice import rank
from .records import BuildRecord


def summary(records: list[BuildRecord]) -> dict:
    ok = [r for r in records if r.error is None]
    hits, misses = sum(r.hits for r in ok), sum(r.misses for r in ok)
    ranked = rank(records, 1)
    return {
        "builds": len(records), "failed": len(records) - len(ok), "hits": hits, "misses": misses,
        "hit_rate": round(hits / (hits + misses), 4) if hits + misses else 0.0,
        "mean_build_hit_rate": round(statistics.mean(r.hit_rate for r in ok), 4) if ok else 0.0,
        "seconds": round(sum(r.seconds for r in records), 3),
        "median_seconds": round(statistics.median(r.seconds for r in ok), 3) if ok else 0.0,
        "rebuilt_bytes": sum(r.rebuilt_bytes for r in ok),
        "top_offender": ranked[0].sentence() if ranked else None,
    }


def to_json(records: list[BuildRecord]) -> dict:
    return {"builds": [r.to_json() for r in records], "summary": summary(records),
            "ranking": [{"instruction": o.instruction, "stage": o.stage, "line": o.line, "invalidated": o.invalidated,
                         "builds": o.builds, "caused": o.caused, "causes": dict(o.causes), "places": dict(o.places),
                         "suggestion": o.suggestion, "text": o.sentence()} for o in rank(records)]}


def write_csv(records: list[BuildRecord], path: str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["commit", "subject", "time", "builder", "hits", "misses", "hit_rate", "seconds", "rebuilt_bytes",
                    "error", "misses_explained"])
        for r in records:
            w.writerow([r.commit, r.subject, r.time, r.builder, r.hits, r.misses, r.hit_rate, round(r.seconds, 3),
                        r.rebuilt_bytes, r.error or "",
                        " | ".join(f"{m.instruction}: {m.explanation}" for m in r.misses_explained)])


def human_bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n}B"


def table_row(index: int, total: int, r: BuildRecord) -> str:
    width = 20
    filled = round(width * (index + 1) / total)
    bar = "#" * filled + "-" * (width - filled)
    if r.error:
        result = f"FAILED: {r.error.splitlines()[0][:80]}"
    else:
        result = f"{r.hits:>3} hit {r.misses:>3} miss {r.hit_rate * 100:5.1f}% {r.seconds:6.2f}s " \
                 f"{human_bytes(r.rebuilt_bytes):>8}"
    return f"[{bar}] {index + 1:>3}/{total} {r.commit[:10]}  {result}  {r.subject[:40]}"


def terminal_summary(records: list[BuildRecord]) -> str:
    s = summary(records)
    lines = [f"{s['builds']} builds ({s['failed']} failed): {s['hits']} hits, {s['misses']} misses, "
             f"hit rate {s['hit_rate'] * 100:.1f}%, {s['seconds']:.1f} s in all, "
             f"{human_bytes(s['rebuilt_bytes'])} of layers rebuilt"]
    for o in rank(records, 5):
        lines.append(f"  {o.sentence()}")
        for i, text in enumerate(o.suggestion.splitlines()):
            lines.append(f"    {'->' if i == 0 else '  '} {text}")
    return "\n".join(lines + failures(records))


def failures(records: list[BuildRecord]) -> list[str]:
    """Each failed build with its whole reason (a failed RUN's: Dockerfile:LINE, its exit code
    and its last output lines)."""
    out = []
    for r in records:
        if r.error is not None:
            first, *rest = r.error.splitlines() or [""]
            out.append(f"FAILED {r.commit[:10]} {r.subject[:50]}: {first}")
            out += [f"    {line}" for line in rest]
    return out


def write_json(records: list[BuildRecord], path: str) -> None:
    with open(path, "w") as f:
        json.dump(to_json(records), f, indent=2)
