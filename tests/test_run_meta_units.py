"""Units of run's metadata flags: docker's env/label file format and resolv.conf with
--dns* (no container needed)."""

from __future__ import annotations

import pytest

from builder.commands.run_meta import read_key_value_file
from builder.containers.metadata import resolv_conf
from builder.errors import UsageError

ENV_FILE = (
    "\ufeff# a comment\n"
    "PLAIN=value\n"
    "   INDENTED=kept as is  \n"
    'QUOTED="not unquoted"\n'
    "EMPTY=\n"
    "EQUALS=a=b=c\n"
    "FROM_HOST\n"
    "NOT_ON_HOST\n"
    "\n"
    "  # an indented comment\n"
    "WINDOWS=crlf\r\n"
)


def test_env_file_is_read_as_docker_reads_it(tmp_path):
    path = tmp_path / "env"
    path.write_text(ENV_FILE, encoding="utf-8")
    got = read_key_value_file(str(path), "--env-file", {"FROM_HOST": "host value"}.get)
    assert got == ["PLAIN=value", "INDENTED=kept as is  ", 'QUOTED="not unquoted"', "EMPTY=", "EQUALS=a=b=c",
                   "FROM_HOST=host value", "WINDOWS=crlf"]


def test_label_file_drops_bare_names(tmp_path):
    path = tmp_path / "labels"
    path.write_text("a=1\nbare\n")
    assert read_key_value_file(str(path), "--label-file", None) == ["a=1"]


@pytest.mark.parametrize("text,message", [
    ("=value\n", "no variable name"),
    ("MY VAR=1\n", "contains whitespaces"),
])
def test_bad_env_file_lines_are_named(tmp_path, text, message):
    path = tmp_path / "env"
    path.write_text(text)
    with pytest.raises(UsageError, match=message) as err:
        read_key_value_file(str(path), "--env-file", None)
    assert f"{path}:1" in str(err.value)


def test_missing_env_file(tmp_path):
    with pytest.raises(UsageError, match="No such file"):
        read_key_value_file(str(tmp_path / "nope"), "--env-file", None)


HOST = "# generated\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch lan\noptions edns0\n"


def test_resolv_conf_flags_replace_the_hosts_lines():
    out = resolv_conf(HOST, ("1.1.1.1", "8.8.8.8"), ("corp.example", "example.com"), ("ndots:2",))
    assert out.splitlines() == ["# generated", "nameserver 1.1.1.1", "nameserver 8.8.8.8",
                                "search corp.example example.com", "options ndots:2"]
    assert resolv_conf(HOST, (), (), ()) == HOST
    assert "search" not in resolv_conf(HOST, (), (".",), ())
