"""docker's `--format` templates (builder/commands/gotemplate.py): one case per row, as a user
writes them after docker's docs (`docker ps --format`, `docker inspect -f`)."""

from __future__ import annotations

import pytest

from builder.commands.formatter import format_rows
from builder.commands.gotemplate import Record, TemplateError, render

CTR = Record("*formatter.ContainerContext",
             {"ID": "4c01db0b339c", "Image": "alpine:3.19", "Names": "web", "Ports": "", "Status": "Up 3 seconds"},
             {"Label": lambda key: {"com.example.env": "prod"}.get(key, "")})
HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Names": "NAMES", "Ports": "PORTS", "Status": "STATUS",
           "Label": "LABEL"}
INSPECT = {"Id": "4c01db0b", "Name": "/web", "State": {"Running": True, "Pid": 42, "Health": None},
           "Config": {"Env": ["PATH=/bin", "A=1"], "Labels": {"b": "2", "a": "1"}},
           "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "10.88.0.2"}}}}

# template  ->  the lines docker prints for [CTR, CTR]
LISTING = [
    ("{{.ID}}", ["4c01db0b339c"] * 2),
    ("{{.ID}}: {{.Names}}", ["4c01db0b339c: web"] * 2),
    ("{{.Names}}\\t{{.Image}}", ["web\talpine:3.19"] * 2),
    ("{{.Names | upper}}", ["WEB"] * 2),
    ('{{.Label "com.example.env"}}', ["prod"] * 2),
    ("{{if .Ports}}{{.Ports}}{{else}}-{{end}}", ["-"] * 2),
    ("table {{.ID}}\\t{{.Names}}\\t{{.Status}}",
     ["CONTAINER ID   NAMES     STATUS", "4c01db0b339c   web       Up 3 seconds",
      "4c01db0b339c   web       Up 3 seconds"]),
    ('table {{.Names}}\\t{{.Label "com.example.env"}}', ["NAMES     LABEL", "web       prod", "web       prod"]),
    ('{{json .Names}}', ['"web"'] * 2),
    ('{{printf "%-6s|" .Names}}', ["web   |"] * 2),
    ('{{"\\t"}}{{.Names}}', ["\tweb"] * 2),
]


@pytest.mark.parametrize("fmt,lines", LISTING)
def test_listing_formats(fmt, lines):
    assert format_rows(fmt, [CTR, CTR], HEADERS) == lines


def test_json_shorthand_and_dot():
    want = '{"ID":"4c01db0b339c","Image":"alpine:3.19","Names":"web","Ports":"","Status":"Up 3 seconds"}'
    assert format_rows("json", [CTR], HEADERS) == [want]
    assert format_rows("{{json .}}", [CTR], HEADERS) == [want]


def test_table_with_nothing_to_list_prints_the_header():
    assert format_rows("table {{.ID}}\\t{{.Names}}", [], HEADERS) == ["CONTAINER ID   NAMES"]


# docker inspect -f: the document is a map
INSPECTS = [
    ("{{.State.Pid}}", "42"),
    ("{{.Name}}", "/web"),
    ("{{.State.Running}}", "true"),
    ("{{json .Config.Env}}", '["PATH=/bin","A=1"]'),
    ("{{.Config.Labels}}", "map[a:1 b:2]"),
    ("{{.Config.Env}}", "[PATH=/bin A=1]"),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "10.88.0.2"),
    ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}", "a=1 b=2 "),
    ('{{index .Config.Labels "b"}}', "2"),
    ("{{range .Config.Env}}{{println .}}{{end}}", "PATH=/bin\nA=1\n"),
    ('{{join .Config.Env ","}}', "PATH=/bin,A=1"),
    ("{{with .State}}{{.Pid}}{{end}}", "42"),
    ("{{if eq .Name \"/db\"}}db{{else if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{len .Config.Env}}", "2"),
    ("{{- .Id -}}  \n", "4c01db0b"),
    ("{{$id := .Id}}{{$id}}", "4c01db0b"),
]


@pytest.mark.parametrize("fmt,out", INSPECTS)
def test_inspect_formats(fmt, out):
    assert render(fmt, INSPECT) == out


ERRORS = [
    # docker ps --format '{{.Foo}}': the struct has no such field
    ("{{.Foo}}", CTR, ('template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type '
                      '*formatter.ContainerContext')),
    ("{{.ID}} {{.Foo}}", CTR, 'template: :1:10: executing "" at <.Foo>: can\'t evaluate field Foo'),
    # docker inspect -f '{{.Foo}}': the raw map fallback runs with missingkey=error
    ("{{.Foo}}", INSPECT, 'template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"'),
    ("{{.State.Health.Status}}", INSPECT,
     'template: :1:2: executing "" at <.State.Health.Status>: nil pointer evaluating interface {}.Status'),
    ("{{.ID", CTR, "template: :1: unclosed action"),
    ("{{nosuch .ID}}", CTR, 'template: :1: function "nosuch" not defined'),
    ("{{if .ID}}x", CTR, "template: :1: unexpected EOF"),
    ("{{end}}", CTR, "template: :1: unexpected {{end}}"),
]


@pytest.mark.parametrize("fmt,data,message", ERRORS)
def test_errors_carry_gos_text(fmt, data, message):
    with pytest.raises(TemplateError) as info:
        render(fmt, data)
    assert info.value.go_text.startswith(message)
    assert str(info.value) == "template parsing error: " + info.value.go_text
