"""docker's `--format` for listings (ps, images, version): `table` with a header row and
aligned columns, `json`, or a template rendered once per item (see gotemplate.py)."""

from __future__ import annotations

import click

from .gotemplate import Record, TemplateError, parse, render
from .gotemplate_values import FUNCS

# docker's header functions print their argument (the column's name) unchanged
_HEADER_FUNCS = FUNCS | {name: (lambda v, *_a: v) for name in
                         ("json", "split", "join", "title", "lower", "upper", "pad", "truncate")}


def _render_header(text: str, headers: dict, sample) -> str:
    names = dict.fromkeys(sample.fields, "") if isinstance(sample, Record) else {}
    methods = {name: (lambda *_a, _h=h: _h) for name, h in headers.items()
               if isinstance(sample, Record) and name in sample.methods}
    fields = {k: v for k, v in (names | headers).items() if k not in methods}
    try:
        return render(text, Record("header", fields, methods), _HEADER_FUNCS)
    except TemplateError:  # a header that cannot be rendered is left empty
        return ""


def tabwrite(lines: list[str], minwidth: int = 10, padding: int = 3) -> list[str]:
    """Go's text/tabwriter as docker sets it up (minwidth 10, padding 3, spaces): every
    tab-terminated cell padded to its column's width; the text after the last tab is left as is."""
    rows = [line.split("\t") for line in lines]
    widths: list[int] = []
    for cells in rows:
        for i, cell in enumerate(cells[:-1]):
            w = max(len(cell) + padding, minwidth)
            if i == len(widths):
                widths.append(w)
            elif w > widths[i]:
                widths[i] = w
    return ["".join(c.ljust(widths[i]) for i, c in enumerate(cells[:-1])) + cells[-1] for cells in rows]


def prepare(fmt: str) -> tuple[bool, str]:
    """(is a table, the template): `\\t` and `\\n` written as two characters become the
    control characters, as docker reads them; a bad template fails here, before any work."""
    table = fmt.startswith("table")
    if table:
        fmt = fmt[len("table"):]
    if fmt.strip() == "json":
        fmt = "{{json .}}"
    fmt = fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    parse(fmt)
    return table, fmt


def format_rows(fmt: str, items: list, headers: dict, default_table: str | None = None) -> list[str]:
    """The lines docker prints for `items` under `--format fmt` (`table` alone means the
    command's default table)."""
    if fmt.strip() == "table" and default_table:
        fmt = default_table
    table, fmt = prepare(fmt)
    rendered = [render(fmt, item) for item in items]
    if not table:
        return rendered
    header = _render_header(fmt, headers, items[0] if items else None)
    return tabwrite("\n".join([header, *rendered]).split("\n"))


def echo_rows(fmt: str, items: list, headers: dict, default_table: str | None = None) -> None:
    for line in format_rows(fmt, items, headers, default_table):
        click.echo(line)


def echo_record(fmt: str | None, record, default_template: str) -> None:
    """One record (version, info) under `--format fmt` ('json' for JSON), else the command's own layout."""
    click.echo(render(prepare(fmt)[1] if fmt else default_template, record))
