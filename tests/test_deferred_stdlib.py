"""The stand-ins of builder/deferred_stdlib.py (issue 17): what they answer themselves equals
what the real module answers, anything else is the real module's, and `cairn` prints the same
help with and without them (CAIRN_DEFER_STDLIB=0)."""

from __future__ import annotations

import _datetime
import datetime
import gettext as real_gettext
import inspect
import json
import os
import random
import subprocess
import sys
import types
import uuid

import pytest

from builder import deferred_stdlib

from .conftest import REPO

# every docstring shape a help text may have, and what breaks a careless reimplementation
ODD_DOCS = [
    "", " ", "\n", "\n\n\n", "one line", "  leading", "trailing  ", "\tTabbed first\n\tTabbed second",
    "first\n    indented\n      more\n    back", "first\n\n    after a blank\n\n", "\n\n    body only\n    two\n",
    "no\nindentation\nat all", "mixed\n\t  tab then spaces\n        eight spaces\n  \t two then tab",
    "a\n    \n    b", "a\n  \n      b", "a\n        \n  b", "x\n   ", "x\n \n \n", "   \n   body\n   ", "\f\nform feed\n \f",
    "unicode\n\u3000\u3000ideographic space\n\u3000\u3000\u3000three", "é first\n  ü café\n    naïve\n  ∑", "nbsp\n\xa0\xa0x\n\xa0y",
    "line\r\n  crlf\r\n  end\r\n", "\v\vvertical\n\vtab", "a\n\x1c\x1dfile separators\n\x1cb", "tabs\ta\tb\n\t\tc\td",
    "\b\nExamples:\n  cairn run --rm alpine:3.19 echo hello", "help\f\nhidden after form feed",
]
CHARS = [" ", "  ", "\t", "\n", "\n\n", "a", "bc", "\u3000", "\xa0", "\f", "\v", "\r", "é", "\x1c", "\b", "-", "\u2028"]


def _generated(n: int) -> list[str]:
    rng = random.Random(17)
    return ["".join(rng.choice(CHARS) for _ in range(rng.randrange(0, 24))) for _ in range(n)]


def test_cleandoc_equals_inspects_on_odd_and_generated_texts():
    docs = ODD_DOCS + _generated(5000)
    assert [d for d in docs if deferred_stdlib.cleandoc(d) != inspect.cleandoc(d)] == []


def test_cleandoc_and_isfunction_equal_inspects_on_every_cairn_help_text():
    """Each string click cleaned while loading every cairn command with the stand-ins (each
    option's help, recorded in a cairn process), and every command's help, short help and epilog."""
    code = ("import json, sys\nfrom builder import deferred_stdlib as d\nseen = []\nown = d.cleandoc\n"
            "def recording(doc):\n    seen.append(doc)\n    return own(doc)\n"
            "d.cleandoc = recording\nd.install()\nimport click\nfrom builder.commands import cli\n"
            "def walk(cmd):\n    yield cmd\n    for name in getattr(cmd, 'commands', {}):\n        yield from walk(cmd.commands[name])\n"
            "for cmd in walk(cli):\n    seen.extend(t for t in (cmd.help, cmd.short_help, cmd.epilog) if t)\n"
            "    seen.extend(p.help for p in cmd.params if getattr(p, 'help', None))\n"
            "print(json.dumps([seen, sorted(m for m in ('inspect', 'uuid', 'gettext') if not d.loaded(m))]))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, timeout=60,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    seen, deferred = json.loads(res.stdout)
    assert deferred == ["gettext", "inspect", "uuid"]  # (the stand-ins were in place)
    assert len(seen) > 300
    assert [d for d in seen if deferred_stdlib.cleandoc(d) != inspect.cleandoc(d)] == []
    for obj in (len, lambda: 1, _generated, str, str.upper, "x".upper, None, types.SimpleNamespace(), inspect.cleandoc):
        assert deferred_stdlib.isfunction(obj) is inspect.isfunction(obj)


_HELP = """\
import io, sys
from contextlib import redirect_stdout
from builder import deferred_stdlib
deferred_stdlib.install()
import click
from builder.commands import cli

def paths(cmd, path):
    yield path
    for name in sorted(getattr(cmd, "commands", {})):
        yield from paths(cmd.commands[name], [*path, name])

out = io.StringIO()
for path in paths(cli, []):
    out.write("== " + " ".join(path) + "\\n")
    with redirect_stdout(out):
        try:
            cli.main(args=[*path, "--help"], prog_name="cairn", standalone_mode=False)
        except click.exceptions.Exit:
            pass
for args in (["build", "--nope", "."], ["build", "--tga", "x", "."], ["images", "-x"], ["nosuch"], ["run"],
             ["ps", "--format"], ["build", "--progress", "loud", "."]):  # (click's messages: gettext, ngettext)
    try:
        cli.main(args=args, prog_name="cairn", standalone_mode=False)
    except click.ClickException as err:
        out.write("== " + " ".join(args) + ": " + err.format_message() + "\\n")
sys.stdout.write(out.getvalue())
print("== deferred", [m for m in deferred_stdlib.MODULES if not deferred_stdlib.loaded(m)])
"""


def test_every_help_page_is_byte_identical_without_the_stand_ins():
    """`cairn --help` and every command's and subcommand's --help, and click's usage errors,
    printed in one process with the stand-ins and in one with CAIRN_DEFER_STDLIB=0; then
    `cairn --help` as a user runs it."""
    pages = {}
    for switch in ("1", "0"):
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "100", deferred_stdlib.SWITCH: switch}
        res = subprocess.run([sys.executable, "-c", _HELP], cwd=REPO, capture_output=True, timeout=60, env=env)
        assert res.returncode == 0, res.stderr.decode()[-2000:]
        text, _, deferred = res.stdout.decode().rpartition("== deferred ")
        pages[switch] = text
        assert deferred.strip() == (repr(list(deferred_stdlib.MODULES)) if switch == "1" else "[]")
    assert pages["1"].count("== ") > 40 and "Usage: cairn run [OPTIONS] IMAGE" in pages["1"]
    assert "== build --tga x .: No such option '--tga'. (Did you mean one of: '--tag', '--target'?)" in pages["1"]
    assert pages["1"] == pages["0"]
    shown = [subprocess.run([sys.executable, "-m", "builder.cli", "--help"], cwd=REPO, capture_output=True, timeout=60,
                            env={**os.environ, deferred_stdlib.SWITCH: switch}).stdout for switch in ("1", "0")]
    assert shown[0] == shown[1] and shown[0].startswith(b"Usage: cairn")


_PROBE = """\
import sys
from builder import deferred_stdlib
deferred_stdlib.install()
import click
stand_in = sys.modules["inspect"]
assert isinstance(stand_in, deferred_stdlib.Deferred)
import dataclasses, os, pathlib
assert "ast" not in sys.modules and "platform" not in sys.modules and "ipaddress" not in sys.modules
assert not any(deferred_stdlib.loaded(m) for m in deferred_stdlib.MODULES)
assert "locale" not in sys.modules or os.path.isdir(os.path.join(sys.base_prefix, "share", "locale"))
# click's own uses: a UUID and a DateTime option convert to the real types
import uuid as u0
u = click.UUID.convert("886313e1-3b8a-5372-9b90-0c9aee199e5d", None, None)
assert type(u).__module__ == "uuid" and isinstance(u, sys.modules["uuid"].UUID) and u.version == 5
when = click.DateTime().convert("2024-02-03", None, None)
assert type(when).__name__ == "datetime" and when.year == 2024
assert click.DateTime().convert(when, None, None) is when
# later imports and `from X import Y` get the real module and its objects
from inspect import signature, cleandoc
import inspect
assert not isinstance(inspect, deferred_stdlib.Deferred) and inspect.signature is signature
assert stand_in.getsource is inspect.getsource and stand_in.cleandoc is inspect.cleandoc
assert str(signature(lambda a, b=2: 0)) == "(a, b=2)"
import uuid, datetime, gettext
assert uuid.UUID is u0.UUID and uuid.uuid4().version == 4 and "platform" in sys.modules
assert datetime.datetime is sys.modules["_datetime"].datetime and datetime.timedelta(1).days == 1
assert gettext.gettext("x") == "x" and gettext.NullTranslations().gettext("y") == "y"
# a dataclass without a docstring: dataclasses asks inspect.signature, which loads it
@dataclasses.dataclass
class P:
    x: int
assert P.__doc__ == "P(x: int)"
# pathlib's as_uri calls the real quote_from_bytes; `import urllib.parse` finds the real module
assert pathlib.PurePosixPath("/a b/\u00e9").as_uri() == "file:///a%20b/%C3%A9"
import urllib.parse
assert urllib.parse.urlsplit("http://h:1/p?q").port == 1 and "ipaddress" in sys.modules
from urllib.parse import quote_from_bytes
assert quote_from_bytes is urllib.parse.quote_from_bytes and sys.modules["urllib.parse"] is urllib.parse
print("ok")
"""


def test_the_stand_ins_load_the_real_module_on_first_other_use():
    res = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, capture_output=True, timeout=60,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"})
    assert res.returncode == 0 and res.stdout == b"ok\n", res.stderr.decode()[-2000:]


def test_datetime_names_are_the_accelerators_objects():
    assert set(deferred_stdlib._DATETIME_NAMES) == set(datetime.__all__)
    for name in datetime.__all__:
        assert getattr(datetime, name) is getattr(_datetime, name)


@pytest.mark.parametrize("env", [{}, {"LANG": "C.UTF-8"}, {"LANGUAGE": "de:fr", "LANG": "de_DE.UTF-8"},
                                 {"LC_ALL": "en_US.ISO8859-1"}, {"LC_MESSAGES": "pt_BR@euro"}, {"LANG": "../../x"},
                                 {"LANGUAGE": "", "LANG": "C"}, {"LANG": "/tmp"}])
def test_gettext_answers_as_the_real_gettext(monkeypatch, tmp_path, env):
    """With no catalogue anywhere (the default directory missing), every language gives the message
    back, as the real gettext does; a language naming a path, or a catalogue directory that exists,
    goes to the real gettext (which finds a catalogue there)."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr(deferred_stdlib, "loaded", lambda name: False)
    for base in (str(tmp_path / "no-such-prefix"), str(tmp_path)):
        monkeypatch.setattr(sys, "base_prefix", base)
        monkeypatch.setattr(real_gettext, "_default_localedir", os.path.join(base, "share", "locale"))
        for msg in ("Show this message and exit.", "Error: {message}", ""):
            assert deferred_stdlib.gettext(msg) == real_gettext.gettext(msg)
        for n in (0, 1, 2, -1):
            assert deferred_stdlib.ngettext("one", "many", n) == real_gettext.ngettext("one", "many", n)
        (tmp_path / "share" / "locale").mkdir(parents=True, exist_ok=True)
    assert deferred_stdlib._untranslated() is False  # (the directory exists: the real gettext decides)


def test_uuid_is_a_stand_in_for_click_types_module_code_only(monkeypatch):
    monkeypatch.setattr(deferred_stdlib, "_real", {})
    stand_in = deferred_stdlib.Deferred("uuid")
    here = {"__name__": "click.types"}
    got = {}
    exec("got['c'] = m.UUID", {**here, "m": stand_in, "got": got})
    cls = got["c"]
    assert cls is not uuid.UUID and isinstance(uuid.uuid4(), cls) and cls("12" * 16) == uuid.UUID("12" * 16)
    assert cls.hex is uuid.UUID.hex and repr(cls) == "<class 'uuid.UUID'>"
    exec("def f():\n    got['f'] = m.UUID\nf()", {**here, "m": stand_in, "got": got})
    assert got["f"] is uuid.UUID  # (not module code: the real class)
    exec("got['o'] = m.UUID", {"__name__": "elsewhere", "m": stand_in, "got": got})
    assert got["o"] is uuid.UUID


@pytest.mark.parametrize("columns", [None, "", "abc", "0", "-5", " 120 ", "1_0"])
@pytest.mark.parametrize("lines", [None, "0", "40"])
def test_get_terminal_size_answers_as_shutils(monkeypatch, columns, lines):
    """COLUMNS/LINES set, empty, not a number, zero or negative; stdout a terminal of 93x31, one
    of 0x0 (unset), a pipe, closed, or None; the default and another fallback."""
    import fcntl
    import pty
    import shutil
    import struct
    import termios

    for var, value in (("COLUMNS", columns), ("LINES", lines)):
        if value is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, value)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 93, 0, 0))
    unset_leader, unset = pty.openpty()
    fcntl.ioctl(unset, termios.TIOCSWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
    read_end, write_end = os.pipe()
    closed = open(os.dup(write_end), "w")
    closed.close()
    try:
        for out in (open(follower, "w", closefd=False), open(unset, "w", closefd=False), open(write_end, "w", closefd=False), closed, None):
            monkeypatch.setattr(sys, "__stdout__", out)
            for fallback in ((80, 24), (0, 7)):
                assert deferred_stdlib.get_terminal_size(fallback) == shutil.get_terminal_size(fallback)
            assert deferred_stdlib.get_terminal_size() == shutil.get_terminal_size()
    finally:
        for fd in (leader, follower, unset_leader, unset, read_end, write_end):
            os.close(fd)


_NTPATH = """
import sys
from builder import deferred_stdlib
deferred_stdlib.install()
import ntpath, pathlib
try:
    import nt
except ImportError as err:
    print(type(err).__name__)
print(sys.modules.get("nt", "unset"), ntpath.abspath("a/../b"), ntpath.realpath("c/d"), ntpath.normpath("C:/x/../y"),
      pathlib.PureWindowsPath("C:/a/b").as_posix(), ntpath.isdir("/"), ntpath.splitroot("//s/x/y") if hasattr(ntpath, "splitroot") else "")
"""


def test_windows_modules_marked_absent_fail_to_import_as_before():
    """ntpath answers the same, and `import nt` fails the same, with and without the marks."""
    out = {}
    for switch in ("1", "0"):
        env = {**os.environ, deferred_stdlib.SWITCH: switch}
        res = subprocess.run([sys.executable, "-c", _NTPATH], cwd=REPO, capture_output=True, text=True, timeout=60,
                             env=env, check=False)
        assert res.returncode == 0, res.stderr
        out[switch] = res.stdout.splitlines()
    assert out["1"][0] == out["0"][0] == "ModuleNotFoundError"
    assert out["1"][1].startswith("None ") and out["0"][1].startswith("unset ")
    assert out["1"][1].split(" ", 1)[1] == out["0"][1].split(" ", 1)[1]
