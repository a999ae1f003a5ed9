"""The self-contained HTML reports of `cairn bench` (inline CSS and SVG, no script, nothing
fetched): one replay (`bench history --report`), or two replays of the same commits side by
side on one page (`bench compare --report`).

Every bar of a chart carries its value as text; a 0 is drawn as a thin bar labelled 0%, so a
series that is 0 in every build is seen and named as such (not an empty chart); a failed
build is a red bar labelled "failed".
"""

from __future__ import annotations

import html

from .advice import CAUSE_WORDS, rank
from .records import BuildRecord
from .report import human_bytes, summary

_COLORS = ("#27ae60", "#8e44ad")
_TIME_COLORS = ("#2980b9", "#d35400")
_STYLE = """body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }
.bad { color: #c0392b; } .figure { margin: 1em 0 2em; } ul, ol { margin: 0; padding-left: 1.2em; }
.summary td, .summary th { border: none; padding: 2px 12px 2px 0; text-align: left; }
.sides { display: flex; gap: 2em; } .sides > section { flex: 1; min-width: 0; }
pre { white-space: pre-wrap; margin: 0; }"""


def _e(text) -> str:
    return html.escape(str(text))


def bars(series: list[tuple[str, list[float | None]]], labels: list[str], top: float, unit: str,
         colors: tuple[str, ...]) -> str:
    """A bar chart, one group per commit and one bar per series in it; None is a failed build."""
    n = max(1, len(series))
    groups = max(1, len(labels))
    bar = 14 if n > 1 else 18
    group_w = n * bar + 14
    pad, ceiling, height = 44, 56, 250  # the axis runs from `ceiling` (top) to `height` (0); values above bars
    span = height - ceiling
    width = max(360, pad + groups * group_w + 20)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 60 + 16 * n}" role="img">',
             f'<line x1="{pad}" y1="{ceiling}" x2="{pad}" y2="{height}" stroke="#888"/>',
             f'<line x1="{pad}" y1="{height}" x2="{width - 5}" y2="{height}" stroke="#888"/>',
             f'<text x="{pad - 4}" y="{ceiling + 4}" font-size="10" text-anchor="end">{top:g}{_e(unit)}</text>',
             f'<text x="{pad - 4}" y="{height}" font-size="10" text-anchor="end">0{_e(unit)}</text>']
    for s, (name, values) in enumerate(series):
        color = colors[s % len(colors)]
        for i, v in enumerate(values):
            x = pad + 6 + i * group_w + s * bar
            if v is None:
                h, fill, shown = span, "#c0392b", "failed"
            else:
                h = 0 if top <= 0 else span * min(v, top) / top
                fill, shown = color, f"{v:g}{unit}"
            h = max(h, 2.0)  # a 0 is a visible line on the axis, labelled with its value
            label = labels[i] if i < len(labels) else ""
            cx, ty = x + (bar - 2) / 2 + 3, height - h - 3
            parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar - 2}" height="{h:.1f}" fill="{fill}" '
                         f'data-series="{_e(name)}" data-value="{_e(shown)}"><title>{_e(name)} {_e(label)}: '
                         f'{_e(shown)}</title></rect>')
            parts.append(f'<text class="value" x="{cx:.1f}" y="{ty:.1f}" font-size="9" transform="rotate(-90 '
                         f'{cx:.1f} {ty:.1f})" data-series="{_e(name)}">{_e(shown)}</text>')
    for i, label in enumerate(labels):
        x = pad + 6 + i * group_w + n * bar / 2
        parts.append(f'<text x="{x:.1f}" y="{height + 14}" font-size="9" text-anchor="end" '
                     f'transform="rotate(-45 {x:.1f} {height + 14})">{_e(label[:8])}</text>')
    for s, (name, values) in enumerate(series):
        y = height + 52 + 16 * s
        known = [v for v in values if v is not None]
        note = f": 0{unit} in every build" if known and all(v == 0 for v in known) else ""
        parts.append(f'<rect x="{pad}" y="{y - 9}" width="10" height="10" fill="{colors[s % len(colors)]}"/>'
                     f'<text class="legend" x="{pad + 14}" y="{y}" font-size="11">{_e(name)}{_e(note)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _rates(records: list[BuildRecord]) -> list[float | None]:
    return [None if r.error else round(r.hit_rate * 100, 1) for r in records]


def _secs(records: list[BuildRecord]) -> list[float | None]:
    return [None if r.error else round(r.seconds, 2) for r in records]


def _ranking(records: list[BuildRecord]) -> str:
    items = "".join(f"<li><b>{_e(o.sentence())}</b><br>causes: "
                    f"{_e(', '.join(f'{CAUSE_WORDS.get(c, c)} ({n})' for c, n in o.causes))}"
                    f"<br>suggestion:<pre class='suggestion'>{_e(o.suggestion)}</pre></li>" for o in rank(records))
    return f"<ol>{items or '<li>no step missed after the first build</li>'}</ol>"


def _result(r: BuildRecord) -> str:
    if r.error:
        return f'<pre class="bad">failed: {_e(r.error)}</pre>'
    return f"{r.hits} / {r.hits + r.misses} ({r.hit_rate * 100:.0f}%), {r.seconds:.2f} s"


def _summary_cells(s: dict) -> list[str]:
    return [f"{s['builds']} ({s['failed']} failed)",
            f"{s['hit_rate'] * 100:.1f}% ({s['hits']} hits, {s['misses']} misses)",
            f"{s['seconds']:.1f} s in all, median {s['median_seconds']:.2f} s per build",
            human_bytes(s["rebuilt_bytes"])]


_SUMMARY_ROWS = ("builds", "cache hit rate (RUN/COPY/ADD)", "time", "layers rebuilt")


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>\n'
            f"<style>\n{_STYLE}\n</style></head><body>\n<h1>{_e(title)}</h1>\n{body}\n</body></html>\n")


def history_page(records: list[BuildRecord], title: str) -> str:
    cells = _summary_cells(summary(records))
    labels = [r.commit[:8] for r in records]
    secs = [v for v in _secs(records) if v is not None]
    rows = "".join(
        f"<tr><td><code>{r.commit[:10]}</code></td><td>{_e(r.subject)}</td><td>{_result(r)}</td>"
        f"<td>{human_bytes(r.rebuilt_bytes)}</td><td><ul>"
        + "".join(f"<li><code>{_e(m.instruction)}</code>: {_e(m.explanation)}</li>" for m in r.misses_explained)
        + "</ul></td></tr>" for r in records)
    body = (
        '<table class="summary">' + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in zip(_SUMMARY_ROWS, cells))
        + "</table>\n<h2>Hit rate per commit</h2><div class=\"figure\">"
        + bars([("hit rate", _rates(records))], labels, 100, "%", _COLORS)
        + "</div>\n<h2>Time per commit</h2><div class=\"figure\">"
        + bars([("time", _secs(records))], labels, max(secs or [1]) or 1, " s", _TIME_COLORS)
        + f"</div>\n<h2>Root causes of the misses</h2>{_ranking(records)}\n<h2>Builds</h2>\n"
        "<table><tr><th>commit</th><th>subject</th><th>hits, time</th><th>rebuilt</th><th>misses, explained</th></tr>"
        f"{rows}</table>")
    return _page(title, body)


def compare_page(a: list[BuildRecord], b: list[BuildRecord], name_a: str, name_b: str, title: str) -> str:
    """A and B (the same commits) side by side."""
    ca, cb = _summary_cells(summary(a)), _summary_cells(summary(b))
    labels = [r.commit[:8] for r in a]
    secs = [v for v in _secs(a) + _secs(b) if v is not None]
    rows = "".join(f"<tr><td><code>{ra.commit[:10]}</code></td><td>{_e(ra.subject)}</td>"
                   f"<td class=\"a\">{_result(ra)}</td><td class=\"b\">{_result(rb)}</td></tr>"
                   for ra, rb in zip(a, b))
    body = (
        f'<table class="summary"><tr><th></th><th>A: {_e(name_a)}</th><th>B: {_e(name_b)}</th></tr>'
        + "".join(f"<tr><td>{k}</td><td>{x}</td><td>{y}</td></tr>" for k, x, y in zip(_SUMMARY_ROWS, ca, cb))
        + "</table>\n<h2>Hit rate per commit</h2><div class=\"figure\">"
        + bars([("A", _rates(a)), ("B", _rates(b))], labels, 100, "%", _COLORS)
        + "</div>\n<h2>Time per commit</h2><div class=\"figure\">"
        + bars([("A", _secs(a)), ("B", _secs(b))], labels, max(secs or [1]) or 1, " s", _TIME_COLORS)
        + "</div>\n<h2>Builds</h2>\n<table class=\"builds\"><tr><th>commit</th><th>subject</th>"
        f"<th>A: {_e(name_a)}</th><th>B: {_e(name_b)}</th></tr>{rows}</table>\n"
        f'<h2>Root causes of the misses</h2>\n<div class="sides"><section class="a"><h3>A: {_e(name_a)}</h3>'
        f'{_ranking(a)}</section><section class="b"><h3>B: {_e(name_b)}</h3>{_ranking(b)}</section></div>')
    return _page(title, body)


def write(path: str, page: str) -> None:
    with open(path, "w") as f:
        f.write(page)
