"""`cairn --help` lists commands in docker's sections; every command's `--help` ends with
examples (a command added later must bring its own); `cairn version`, `--version`; the shell
completion the README documents."""

from __future__ import annotations

import re

import click
import pytest

from builder.commands import cli

from .conftest import cairn_cli
from .inproc import cairn


def _walk(cmd, path):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _walk(sub, [*path, name])


COMMANDS = [" ".join(path) for path, cmd in _walk(cli, []) if path and not cmd.hidden]


def test_top_level_help_groups_commands_as_docker_does():
    out = cairn("--help").stdout
    titles = re.findall(r"^(\w+ Commands):$", out, re.MULTILINE)
    assert titles[:6] == ["Build Commands", "Image Commands", "Container Commands", "Registry Commands",
                          "Cache Commands", "Bench Commands"]
    assert set(titles) <= {*titles[:6], "Other Commands"}
    listed = re.findall(r"^  ([a-z][\w-]*)  ", out, re.MULTILINE)
    assert sorted(listed) == sorted(n for n in cli.commands if not cli.commands[n].hidden)  # each once
    section = out.split("Container Commands:")[1].split("\n\n")[0]
    assert {"run", "ps", "logs", "stop", "rm"} <= set(re.findall(r"^  ([a-z]+)", section, re.MULTILINE))
    assert re.search(r"^  version +Show the cairn version information", out.split("Other Commands:")[1], re.MULTILINE)


@pytest.mark.parametrize("path", COMMANDS)
def test_every_command_help_ends_with_examples(path):
    res = cairn(*path.split(), "--help")
    assert res.returncode == 0, res.stderr
    tail = res.stdout.rstrip("\n").split("\n\n")[-1].splitlines()
    assert tail[0].strip() == "Examples:", f"`cairn {path} --help` ends without examples (add them to help.EXAMPLES)"
    examples = tail[1:]
    assert 1 <= len(examples) <= 3
    for line in examples:
        assert line.strip().startswith(f"cairn {path.split()[0]}"), line


def test_version_layout_and_format():
    out = cairn("version").stdout
    assert re.match(r"Client:\n Version: +\S+\n Python version: +3\.\d+\.\d+\n Git commit: +\S+\n OS/Arch: +linux/\w+\n\n"
                    r"Server:\n Engine:\n  Version: +\S+\n", out), out
    version = re.search(r"Version: +(\S+)", out).group(1)
    assert cairn("version", "--format", "{{.Server.Version}}").stdout == version + "\n"
    assert cairn("version", "-f", "{{.Client.Os}}/{{.Client.Arch}}").stdout.startswith("linux/")
    assert '"Client":{' in cairn("version", "--format", "json").stdout
    bad = cairn("version", "-f", "{{.Client.Nope}}")
    assert bad.returncode == 1 and "can't evaluate field Nope" in bad.stderr
    assert re.fullmatch(rf"cairn version {re.escape(version)}, build \S+\n", cairn("--version").stdout)


def test_shell_completion_as_the_readme_says():
    script = cairn_cli(env={"_CAIRN_COMPLETE": "bash_source"})
    assert script.returncode == 0 and b"complete " in script.stdout and b"_CAIRN_COMPLETE" in script.stdout
    words = cairn_cli(env={"_CAIRN_COMPLETE": "bash_complete", "COMP_WORDS": "cairn ps --fo", "COMP_CWORD": "2"})
    assert words.returncode == 0 and b"--format" in words.stdout
