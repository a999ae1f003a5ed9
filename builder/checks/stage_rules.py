"""Checks of one stage's instructions, in order, with what the stage has defined so far:
ENV and ARG names (for UndefinedVar), an absolute WORKDIR, a SHELL; and the instructions
whose last one wins (CMD, ENTRYPOINT, HEALTHCHECK)."""

from __future__ import annotations

import posixpath
import re

from ..instructions import types as t
from . import rules as r
from .rules import Finding
from .words import Hints, undefined

_SECRET = re.compile(r"(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)",
                     re.IGNORECASE)
_NOT_SECRET = re.compile(r"(?:_|^)(?:public)(?:_|$)", re.IGNORECASE)
_LAST_WINS = ("ENTRYPOINT", "CMD", "HEALTHCHECK")


class StageFacts:
    """What a stage has defined; a stage built FROM another starts with a copy of its facts."""

    def __init__(self, names: dict[str, None] | None = None, absolute_workdir: bool = False, shell_set: bool = False):
        self.names = {} if names is None else names  # ENV keys and ARG names, in definition order
        self.absolute_workdir = absolute_workdir
        self.shell_set = shell_set

    def copy(self) -> StageFacts:
        return StageFacts(dict(self.names), self.absolute_workdir, self.shell_set)

    def define(self, name: str) -> None:
        self.names[name] = None


class _Empty(dict):
    """The stage's names, each as an empty value (looked up, not copied)."""

    def __init__(self, names):
        super().__init__()
        self.names = names

    def __contains__(self, key):
        return key in self.names

    def __getitem__(self, key):
        if key in self.names:
            return ""
        raise KeyError(key)


def is_secret(name: str) -> bool:
    return bool(_SECRET.search(name)) and not _NOT_SECRET.search(name)


class StageChecker:
    def __init__(self, facts: StageFacts, escape: str, ignored=None, hint: Hints | None = None):
        self.facts = facts
        self.hint = hint or Hints()
        self.escape = escape
        self.ignored = ignored  # rel path -> bool, from .dockerignore (None: not checked)
        self.findings: list[Finding] = []
        self.last_wins: dict[str, list[int]] = {}

    def _add(self, rule, line: int, detail: str) -> None:
        self.findings.append(Finding(rule, line, detail))

    def _vars(self, cmd: t.Command, *words: str) -> None:
        for word in words:
            for name in undefined(word or "", self.facts.names, self.escape):
                suggestion = self.hint(name, self.facts.names)
                self._add(r.UNDEFINED_VAR, cmd.start_line, f"Usage of undefined variable '${name}'"
                          + (f" (did you mean ${suggestion}?)" if suggestion else ""))

    def _secret(self, cmd: t.Command, kind: str, name: str) -> None:
        if is_secret(name):
            self._add(r.SECRETS_USED_IN_ARG_OR_ENV, cmd.start_line,
                      f'Do not use ARG or ENV instructions for sensitive data ({kind} "{name}")')

    def _legacy(self, cmd: t.Command, pairs) -> None:
        if any(p.legacy for p in pairs):
            kw = cmd.keyword.upper()
            self._add(r.LEGACY_KEY_VALUE_FORMAT, cmd.start_line,
                      f'"{kw} key=value" should be used instead of legacy "{kw} key value" format')

    def command(self, cmd: t.Command) -> None:
        kw = cmd.keyword.upper()
        if kw in _LAST_WINS:
            self.last_wins.setdefault(kw, []).append(cmd.start_line)
        if isinstance(cmd, t.Arg):
            for decl in cmd.args:
                self._secret(cmd, "ARG", decl.name)
                if decl.default is not None:
                    self._vars(cmd, decl.default)
                self.facts.define(decl.name)
        elif isinstance(cmd, t.Env):
            self._legacy(cmd, cmd.pairs)
            for pair in cmd.pairs:
                self._secret(cmd, "ENV", pair.key)
                self._vars(cmd, pair.key, pair.value)
            for pair in cmd.pairs:
                self.facts.define(pair.key)
        elif isinstance(cmd, t.Label):
            self._legacy(cmd, cmd.pairs)
            for pair in cmd.pairs:
                self._vars(cmd, pair.key, pair.value)
        elif isinstance(cmd, t.Maintainer):
            self._add(r.MAINTAINER_DEPRECATED, cmd.start_line, "Maintainer instruction is deprecated in favor of using label")
        elif isinstance(cmd, (t.Cmd, t.Entrypoint)):
            if cmd.shell_form and not self.facts.shell_set:
                self._add(r.JSON_ARGS_RECOMMENDED, cmd.start_line,
                          f"JSON arguments recommended for {kw} to prevent unintended behavior related to OS signals")
        elif isinstance(cmd, t.Shell):
            self.facts.shell_set = True
        elif isinstance(cmd, t.Workdir):
            self._vars(cmd, cmd.path)
            if cmd.path.startswith("/") or cmd.path.startswith("$"):
                self.facts.absolute_workdir = self.facts.absolute_workdir or cmd.path.startswith("/")
            elif not self.facts.absolute_workdir:
                self._add(r.WORKDIR_RELATIVE_PATH, cmd.start_line,
                          f'Relative workdir "{cmd.path}" can have unexpected results if the base image changes')
        elif isinstance(cmd, (t.Copy, t.Add)):
            self._vars(cmd, *cmd.sources, cmd.dest, cmd.chown, cmd.chmod, getattr(cmd, "from_", ""))
            self._ignored_sources(cmd)
        elif isinstance(cmd, t.User):
            self._vars(cmd, cmd.user)
        elif isinstance(cmd, t.Expose):
            self._vars(cmd, *cmd.ports)
        elif isinstance(cmd, t.Volume):
            self._vars(cmd, *cmd.paths)
        elif isinstance(cmd, t.StopSignal):
            self._vars(cmd, cmd.signal)

    def _ignored_sources(self, cmd) -> None:
        if self.ignored is None or getattr(cmd, "from_", ""):
            return
        import grammar

        env = _Empty(self.facts.names)
        for src in cmd.sources:
            if "://" in src or src.startswith("git@"):
                continue
            try:
                path = grammar.expand_word(src, env, self.escape)
            except grammar.ShellWordError:
                continue
            rel = posixpath.normpath("/" + path).lstrip("/")
            if rel and self.ignored(rel):
                what = "Copy" if isinstance(cmd, t.Copy) else "Add"
                self._add(r.COPY_IGNORED_FILE, cmd.start_line,
                          f'Attempting to {what} file "{path}" that is excluded by .dockerignore')

    def finish(self) -> list[Finding]:
        for kw, lines in self.last_wins.items():
            for line in lines[:-1]:
                self._add(r.MULTIPLE_INSTRUCTIONS_DISALLOWED, line,
                          f"Multiple {kw} instructions should not be used in the same stage because only the "
                          "last one will be used")
        return self.findings
