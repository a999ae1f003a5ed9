"""`cairn CMD` imports only CMD's module (builder.commands.COMMAND_MODULES): the table must
name, for every command the CLI has, the module that defines it, or that command would
quietly load every other command's module again (or, absent, all of them)."""

from __future__ import annotations

import subprocess
import sys

from builder.commands import COMMAND_MODULES, cli


def test_every_command_is_in_the_table_with_its_module():
    defined = {name: cmd.callback.__module__.rsplit(".", 1)[1] for name, cmd in cli.commands.items()}
    assert defined == COMMAND_MODULES


def test_resolving_one_command_imports_only_its_module():
    code = ("import sys; from builder.commands import cli; assert cli.commands.get('run') is not None; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('builder.commands.'))))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    others = {f"builder.commands.{m}" for m in COMMAND_MODULES.values()} - {"builder.commands.run"}
    assert "builder.commands.run" in out
    assert others.isdisjoint(out), sorted(others.intersection(out))
