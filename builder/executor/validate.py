"""The one check, before any step runs, of everything a build would otherwise refuse half-way:
what BuildKit refuses while it turns the Dockerfile into its graph, before it runs anything.

`cairn parse --validate` and `cairn build` both run it. Per needed stage it follows ARG and
ENV as the build will, and checks each instruction's words: every word's variable syntax
(`${X`, `${X!}`), and the values a step would refuse: `--chmod`, `RUN --network`, `--security`
and `--mount` options, a `#!` heredoc's name, `EXPOSE` ports, an empty `VOLUME`, `ADD
--checksum` and `--user-agent` of a local source, a `COPY --from` that is neither a stage nor
a valid image name; for a build, also the entitlements `--allow` did not grant. A value that
depends on a variable only the base image's ENV can set is checked by the step itself.
Errors carry the instruction's lines (`Dockerfile:LINE: ...`)."""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping

import grammar

from ..args import GlobalScope, StageScope
from ..errors import CairnError
from ..image import config as image_config
from ..instructions import types as t
from ..instructions.errors import InstructionError
from ..plan import BuildPlan, plan_build
from .sandbox import ENTITLEMENTS, Sandbox


class _Everything(Mapping):
    """An environment in which every name is set (to a non-empty value): expanding a word in it
    fails only on the word's syntax, never on `${X:?}`."""

    def __getitem__(self, key):
        return "x"

    def __contains__(self, key):
        return True

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0


def validate_file(plan: t.DockerfilePlan, escape: str, build_args: dict[str, str], target: str | None = None,
                  platform: dict | None = None) -> None:
    """`parse --validate`: plan the target (the last stage by default) and check its stages;
    every entitlement counts as granted (only a build's --allow decides those)."""
    g = GlobalScope(dict(build_args), escape, target=platform)
    bp = plan_build(plan, g, target)
    check_stages(bp, g, Sandbox(allow=ENTITLEMENTS))


def check_stages(bp: BuildPlan, g: GlobalScope, sandbox: Sandbox, contexts=(), secrets=None, ssh=None) -> None:
    """Raises DockerfileError (with the instruction's lines) for the first instruction of the
    planned stages that its step would refuse. `g` is left as it was; `contexts`: the names
    of the build's named contexts; `secrets`, `ssh`: the ids given (None: not known here)."""
    g = copy.deepcopy(g)
    names = {ps.stage.name for ps in bp.stages if ps.stage.name} | {c.lower() for c in contexts}
    stages: dict[int, _Stage] = {}
    for ps in bp.stages:
        if ps.base.stage is not None and ps.base.stage in stages:
            stage = stages[ps.base.stage].clone(g)
        else:  # scratch is empty; an image's (or a named context's) ENV is not known here
            stage = _Stage(StageScope(g, {}), complete=ps.base.scratch, unknown=set())
        stage.stage_names = names
        stage.given = {"secret": secrets, "ssh": ssh}
        for cmd in ps.stage.commands:
            try:
                stage.check(cmd, sandbox)
            except grammar.DockerfileError as err:
                raise err.at(cmd.start_line, cmd.end_line) from None
            except CairnError as err:
                raise InstructionError(str(err)).at(cmd.start_line, cmd.end_line) from None
        stages[ps.index] = stage


class _Stage:
    def __init__(self, scope: StageScope, complete: bool, unknown: set[str]):
        self.scope = scope
        self.complete = complete  # no image ENV underneath: what ARG and ENV set is all there is
        self.unknown = unknown  # names whose value only the build knows
        self.stage_names: set[str] = set()  # (and of named contexts)
        self.given: dict = {}  # mount type -> the ids the build was given, or None

    def clone(self, g: GlobalScope) -> _Stage:
        return _Stage(StageScope(g, dict(self.scope.env)), self.complete, set(self.unknown))

    def _escape(self) -> str:
        return self.scope.globals.escape

    def syntax(self, *words: str) -> None:
        for word in words:
            if word and "$" in word:
                grammar.ShellLexer(self._escape()).process(word, _Everything())

    def known(self, word: str) -> bool:
        """Whether the word's value is known now (all its variables are)."""
        if "$" not in word:
            return True
        lexer = grammar.ShellLexer(self._escape())
        names = set(lexer.process(word, _Everything()).matched)
        try:  # (with nothing set, the other branch of each ${X:-...} and ${X:+...} is read)
            names |= lexer.process(word, {}).unmatched
        except grammar.ShellWordError:
            pass  # ${X:?...}
        if names & self.unknown:
            return False
        # (under an image, only the file's ENV is sure: the image's ENV wins over an ARG)
        return self.complete or names <= self.scope.env.keys()

    def value(self, word: str) -> str | None:
        """The word expanded, or None when its value depends on what only the build knows."""
        self.syntax(word)
        return self.scope.expand(word) if self.known(word) else None

    def check(self, cmd: t.Command, sandbox: Sandbox) -> None:
        if isinstance(cmd, t.Arg):
            for decl in cmd.args:
                if decl.name in self.scope.globals.build_args:  # given: its default is never expanded
                    if decl.default is not None:
                        self.syntax(decl.default)
                    self.scope.declare(decl)
                    self.unknown.discard(decl.name)
                    continue
                if decl.default is not None and self.value(decl.default) is None:
                    self.scope.args[decl.name] = ""
                    self.unknown.add(decl.name)
                    continue
                self.scope.declare(decl)
                self.unknown.discard(decl.name)
        elif isinstance(cmd, t.Env):
            for pair in cmd.pairs:
                key, value = self.value(pair.key), self.value(pair.value)
                if key is None:
                    self.complete = False  # (a name made of a variable: anything may be set)
                elif value is None:
                    self.unknown.add(key)
                else:
                    self.scope.set_env(key, value)
                    self.unknown.discard(key)
        elif isinstance(cmd, (t.Copy, t.Add)):
            self._copy(cmd)
        elif isinstance(cmd, t.Run):
            self._run(cmd, sandbox)
        elif isinstance(cmd, (t.Expose, t.Volume)):
            words = cmd.ports if isinstance(cmd, t.Expose) else cmd.paths
            self.syntax(*words)
            if all(self.known(w) for w in words):
                image_config.apply({}, cmd, self.scope.expand)
        elif isinstance(cmd, t.Workdir):
            self.value(cmd.path)
        elif isinstance(cmd, t.User):
            self.value(cmd.user)
        elif isinstance(cmd, t.StopSignal):
            self.value(cmd.signal)
        elif isinstance(cmd, t.Label):
            for pair in cmd.pairs:
                self.value(pair.key), self.value(pair.value)
        elif isinstance(cmd, t.Maintainer):
            self.value(cmd.name)

    def _copy(self, cmd) -> None:
        from .chmod import Chmod

        sources = [self.value(s) for s in cmd.sources]
        for word in (cmd.dest, cmd.chown, *cmd.excludes):
            self.value(word)
        chmod = self.value(cmd.chmod) if cmd.chmod else None
        if chmod:
            Chmod(chmod)
        if isinstance(cmd, t.Copy) and cmd.from_:
            self._from(self.value(cmd.from_))
        if isinstance(cmd, t.Add):
            self._add(cmd, sources)

    def _from(self, name: str | None) -> None:
        """A --from that names no stage is an image: its name must be valid (BuildKit parses
        it before it runs anything). A named context (a build's --build-context) may also be
        any name."""
        if name is None or name.lower() in self.stage_names or name.isdecimal():
            return
        from ..image.reference import ReferenceError, parse_reference

        try:
            parse_reference(name)
        except ReferenceError as err:
            raise CairnError(f"COPY --from={name}: no such stage, and {err}") from None

    def _add(self, cmd: t.Add, sources: list[str | None]) -> None:
        from .git_ref import for_add

        checksum = self.value(cmd.checksum) if cmd.checksum else None
        agent = self.value(cmd.user_agent) if cmd.user_agent else None
        if None in sources:
            return
        urls = [s for s in sources if s.startswith(("http://", "https://"))]
        repos = [s for s in sources if for_add(s, cmd.keep_git_dir, checksum or "") is not None]
        if cmd.checksum and (len(cmd.sources) != 1 or not (urls or repos)):
            raise CairnError("ADD --checksum needs exactly one URL or git source")
        if agent and len(urls) != len(sources):
            raise CairnError("ADD --user-agent can't be specified for non-HTTP sources")

    def _required(self, m) -> None:
        """A required=true secret or ssh mount whose id the build was not given."""
        given = self.given.get(m.type)
        if not m.required or given is None:
            return
        if m.type == "secret":
            sid = m.id or posixpath.basename(m.target or "")
            if sid not in given:
                raise CairnError(f"secret {sid!r} is required but was not given (--secret id={sid},src=PATH)")
        else:
            sid = m.id or "default"
            if sid not in given:
                raise CairnError(f"ssh agent {sid!r} is required but was not given (--ssh {sid}[=SOCKET|KEY])")

    def _run(self, cmd: t.Run, sandbox: Sandbox) -> None:
        from .run_mounts import expand_mounts
        from .runcmd import heredoc_script

        network = self.value(cmd.network)
        if network is not None:
            sandbox.network_mode(network)
        security = self.value(cmd.security)
        if security is not None:
            sandbox.insecure(security)
        raws = [m.raw for m in cmd.mounts]
        self.syntax(*raws)
        if all(self.known(raw) for raw in raws):
            for m in expand_mounts(cmd.mounts, self.scope.expand):
                self._required(m)
        heredoc_script(cmd)
