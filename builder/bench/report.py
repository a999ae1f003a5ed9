"""What a replay found: a summary, the steps that missed most and why, and its outputs.

Outputs: a terminal table, JSON (`{"builds": [...], "summary": {...}}`), CSV, and a
self-contained HTML report (inline CSS and SVG, no script, nothing fetched) with the hit
rate and time per commit and the ranking of the instructions that missed most, with their
most frequent causes and a concrete suggestion.
"""

from __future__ import annotations

import csv
import html
import json
import re
import statistics
from collections import Counter
from dataclasses import dataclass

from .records import BuildRecord

# Paths that rarely belong in an image: changes there should not rebuild anything.
_NOISE = re.compile(r"^(docs?|tests?|spec|examples?|\.github|\.gitlab|\.circleci|\.vscode|\.idea)(/|$)"
                    r"|(^|/)(README|CHANGELOG|CHANGES|LICENSE|CONTRIBUTING|AUTHORS)[^/]*$|\.(md|rst)$"
                    r"|(^|/)(Dockerfile[^/]*|\.dockerignore)$", re.I)
_MANIFESTS = re.compile(r"(requirements[^/ ]*\.txt|package(-lock)?\.json|yarn\.lock|pnpm-lock\.yaml|go\.(mod|sum)|"
                        r"Cargo\.(toml|lock)|Gemfile(\.lock)?|pom\.xml|build\.gradle|pyproject\.toml|poetry\.lock|"
                        r"composer\.(json|lock)|deps\.txt)")


@dataclass(frozen=True)
class Offender:
    instruction: str
    stage: str
    invalidated: int        # builds in which this step missed for a reason other than "first build"
    builds: int             # successful builds that ran this step
    causes: tuple[tuple[str, int], ...]
    places: tuple[tuple[str, int], ...]   # where the changed files were: top-level dirs (or root files)
    suggestion: str

    def sentence(self) -> str:
        text = f"{self.instruction}: invalidated by {self.invalidated} of {self.builds} builds"
        if self.places:
            top = [p for p, _ in self.places[:3]]
            text += "; most changes were under " + (", ".join(top[:-1]) + " and " + top[-1] if len(top) > 1
                                                     else top[0])
        elif self.causes:
            text += f"; mostly: {_CAUSE_WORDS.get(self.causes[0][0], self.causes[0][0])}"
        return text


_CAUSE_WORDS = {"files": "files changed", "parent": "an earlier step missed", "env": "a build arg or env changed",
                "instruction": "the instruction was edited", "format": "the cache format changed",
                "unknown": "unknown (BuildKit does not say)"}


def _place(path: str) -> str:
    head, sep, _ = path.partition("/")
    return head + "/" if sep else head


def _suggest(instruction: str, causes: Counter, files: Counter, manifest_copied_first: bool) -> str:
    main = causes.most_common(1)[0][0] if causes else ""
    if main == "files":
        noisy = sum(n for f, n in files.items() if _NOISE.search(f))
        total = sum(files.values()) or 1
        dirs = sorted({_place(f) for f in files if _NOISE.search(f)})[:4]
        words = instruction.split()
        whole = words[:1] and words[0].upper() in ("COPY", "ADD") and any(w in (".", "./") for w in words[1:-1])
        if noisy / total >= 0.25:
            return (f"add {', '.join(dirs)} to .dockerignore: {noisy} of {total} changes that invalidated this "
                    "step were there, and the image does not need them")
        if whole and not manifest_copied_first:
            return ("copy the dependency manifest first (e.g. COPY requirements.txt or package.json, then RUN the "
                    "install), and the rest of the sources after it, so that source edits keep the install cached")
        return "these files are part of the image: the misses are expected; split the COPY if only some of them change often"
    if main == "parent":
        return "invalidated by an earlier step that missed: fix that one first"
    if main == "env":
        return "a build arg or env value changed between builds: declare that ARG just before the step that needs it"
    if main == "instruction":
        return "the instruction itself was edited"
    if main == "unknown":
        return "BuildKit does not say why; replay with --builder cairn for causes"
    return ""


def rank(records: list[BuildRecord], limit: int = 10) -> list[Offender]:
    """The steps (by position: the same step across commits, whatever its text) that missed most."""
    seen: Counter = Counter()
    latest: dict[str, str] = {}
    manifest_first: dict[str, bool] = {}
    for r in records:
        if r.error is not None:
            continue
        copied_manifest = False
        for instruction, _, position in r.steps:
            seen[position] += 1
            latest[position] = instruction
            manifest_first[position] = copied_manifest
            words = instruction.split()
            if words[0].upper() in ("COPY", "ADD") and any(_MANIFESTS.search(w) for w in words[1:-1]):
                copied_manifest = True
    groups: dict[str, list] = {}
    for r in records:
        if r.error is not None:
            continue
        for m in r.misses_explained:
            if m.cause != "new":
                groups.setdefault(m.position or m.instruction, []).append(m)
    out = []
    for position, misses in groups.items():
        causes = Counter(m.cause for m in misses)
        files = Counter(f for m in misses for f in m.changed_files)
        places = Counter(_place(f) for f in files.elements())
        instruction = latest.get(position, misses[-1].instruction)
        out.append(Offender(instruction, misses[-1].stage, len(misses), max(seen[position], len(misses)),
                            tuple(causes.most_common()), tuple(places.most_common(5)),
                            _suggest(instruction, causes, files, manifest_first.get(position, False))))
    out.sort(key=lambda o: (-o.invalidated, o.instruction))
    return out[:limit]


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
            "ranking": [{"instruction": o.instruction, "stage": o.stage, "invalidated": o.invalidated,
                         "builds": o.builds, "causes": dict(o.causes), "places": dict(o.places),
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
        result = f"FAILED: {r.error[:60]}"
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
        if o.suggestion:
            lines.append(f"    -> {o.suggestion}")
    return "\n".join(lines)


# -- HTML --------------------------------------------------------------------------------

def _bars(values: list[float], labels: list[str], failed: list[bool], top: float, unit: str, color: str) -> str:
    width, height, pad = max(320, 28 * len(values) + 60), 200, 40
    step = (width - pad - 10) / max(1, len(values))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 50}" role="img">',
             f'<line x1="{pad}" y1="10" x2="{pad}" y2="{height}" stroke="#888"/>',
             f'<line x1="{pad}" y1="{height}" x2="{width - 5}" y2="{height}" stroke="#888"/>',
             f'<text x="{pad - 4}" y="14" font-size="10" text-anchor="end">{top:g}{unit}</text>',
             f'<text x="{pad - 4}" y="{height}" font-size="10" text-anchor="end">0</text>']
    for i, (v, label, bad) in enumerate(zip(values, labels, failed)):
        x = pad + 4 + i * step
        h = 0 if top <= 0 else (height - 10) * min(v, top) / top
        fill = "#c0392b" if bad else color
        shown = "failed" if bad else f"{v:g}{unit}"
        parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{step * 0.7:.1f}" height="{max(h, 2 if bad else 0):.1f}" '
                     f'fill="{fill}"><title>{html.escape(label)}: {shown}</title></rect>')
        parts.append(f'<text x="{x + step * 0.35:.1f}" y="{height + 14}" font-size="9" text-anchor="end" '
                     f'transform="rotate(-45 {x + step * 0.35:.1f} {height + 14})">{html.escape(label[:8])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_html(records: list[BuildRecord], path: str, title: str) -> None:
    s = summary(records)
    labels = [r.commit[:8] for r in records]
    failed = [r.error is not None for r in records]
    rates = [round(r.hit_rate * 100, 1) for r in records]
    secs = [round(r.seconds, 2) for r in records]
    rows = []
    for r in records:
        misses = "".join(f"<li><code>{html.escape(m.instruction)}</code>: {html.escape(m.explanation)}</li>"
                         for m in r.misses_explained)
        status = f'<span class="bad">failed: {html.escape(r.error)}</span>' if r.error else \
            f"{r.hits} / {r.hits + r.misses} ({r.hit_rate * 100:.0f}%)"
        rows.append(f"<tr><td><code>{r.commit[:10]}</code></td><td>{html.escape(r.subject)}</td><td>{status}</td>"
                    f"<td>{r.seconds:.2f} s</td><td>{human_bytes(r.rebuilt_bytes)}</td><td><ul>{misses}</ul></td></tr>")
    ranking = "".join(f"<li><b>{html.escape(o.sentence())}</b>"
                      f"<br>causes: {html.escape(', '.join(f'{_CAUSE_WORDS.get(c, c)} ({n})' for c, n in o.causes))}"
                      f"<br>suggestion: {html.escape(o.suggestion)}</li>" for o in rank(records))
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }}
.bad {{ color: #c0392b; }} .figure {{ margin: 1em 0 2em; }} ul {{ margin: 0; padding-left: 1.2em; }}
.summary td {{ border: none; padding: 2px 12px 2px 0; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<table class="summary">
<tr><td>builds</td><td>{s['builds']} ({s['failed']} failed)</td></tr>
<tr><td>cache hit rate (RUN/COPY/ADD)</td><td>{s['hit_rate'] * 100:.1f}% ({s['hits']} hits, {s['misses']} misses)</td></tr>
<tr><td>time</td><td>{s['seconds']:.1f} s in all, median {s['median_seconds']:.2f} s per build</td></tr>
<tr><td>layers rebuilt</td><td>{human_bytes(s['rebuilt_bytes'])}</td></tr>
</table>
<h2>Hit rate per commit</h2><div class="figure">{_bars(rates, labels, failed, 100, "%", "#27ae60")}</div>
<h2>Time per commit</h2><div class="figure">{_bars(secs, labels, failed, max(secs or [1]) or 1, " s", "#2980b9")}</div>
<h2>Steps that missed most</h2><ol>{ranking or "<li>no step missed after the first build</li>"}</ol>
<h2>Builds</h2>
<table><tr><th>commit</th><th>subject</th><th>hits</th><th>time</th><th>rebuilt</th><th>misses, explained</th></tr>
{''.join(rows)}</table>
</body></html>
"""
    with open(path, "w") as f:
        f.write(doc)


def write_json(records: list[BuildRecord], path: str) -> None:
    with open(path, "w") as f:
        json.dump(to_json(records), f, indent=2)
