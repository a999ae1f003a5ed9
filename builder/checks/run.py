"""Runs the checks over a parsed Dockerfile: the file-wide ones, each FROM line, and each
stage's instructions (every stage for `--check`; the stages the target needs for a build,
as BuildKit lints only what it builds). Instructions are read one by one, so the checks of
the lines before a bad instruction are still reported with its error (BuildKit's
testWarningsBeforeError)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field

import grammar
from runtime.record import Record, record

from ..args import GlobalScope
from ..instructions import types as t
from ..instructions.parse import parse_instruction
from . import from_rules
from . import rules as r
from .config import BUILD_ARG, CheckConfig, parse_config
from .rules import Finding
from .stage_rules import StageChecker, StageFacts
from .words import Hints


@record
class CheckInput(Record):
    build_args: dict = field(default_factory=dict)
    target: str | None = None
    all_stages: bool = True  # --check: every stage; a build: only those the target needs
    ignored: Callable[[str], bool] | None = None  # context path -> excluded by .dockerignore
    # base image reference, stage platform, explicit -> (env names, platform mismatch text or "")
    base: Callable[[str, dict | None, bool], tuple[list[str], str]] | None = None
    platform: dict | None = None  # the target platform (None: the host's)


class CheckReport:
    def __init__(self, config: CheckConfig, findings: list[Finding], error: grammar.DockerfileError | None = None):
        self.config = config
        self.findings = findings
        self.error = error  # the instruction the walk stopped at

    def violation(self) -> grammar.DockerfileError | None:
        """With error=true, the build's error for the findings (at the first one)."""
        if not (self.config.error and self.findings):
            return None
        names = ", ".join(dict.fromkeys(f.rule.name for f in self.findings))
        return grammar.DockerfileError(f"lint violation found for rules: {names}", self.findings[0].line)


class _Stage:
    def __init__(self, node: grammar.Instruction, index: int, name: str, base: str, platform: str):
        self.node, self.index = node, index
        self.name = name  # as written
        self.base, self.platform = base, platform
        self.commands: list = []


def _from_parts(node: grammar.Instruction) -> tuple[str, str, str]:
    platform = ""
    for flag in node.flags:
        if flag.startswith("--platform="):
            platform = flag[len("--platform="):]
    args = node.args
    name = args[2] if len(args) == 3 and args[1].lower() == "as" else ""
    return (args[0] if args else ""), name, platform


def _walk(tree: grammar.Dockerfile):
    """(meta ARGs, stages, the first instruction error or None)."""
    meta: list[t.Arg] = []
    stages: list[_Stage] = []
    for node in tree.instructions:
        if node.name == "from":
            base, name, platform = _from_parts(node)
            stages.append(_Stage(node, len(stages), name, base, platform))
            continue
        try:
            cmd = parse_instruction(node)
        except grammar.DockerfileError as err:
            return meta, stages, err
        if stages:
            stages[-1].commands.append(cmd)
        elif isinstance(cmd, t.Arg):
            meta.append(cmd)
    return meta, stages, None


def _needed(stages: list[_Stage], target: str | None, expand) -> set[int]:
    if not stages:
        return set()
    by_name = {s.name.lower(): s.index for s in stages if s.name}

    def index_of(ref: str, before: int) -> int | None:
        ref = ref.lower()
        if ref in by_name:
            return by_name[ref]
        return int(ref) if ref.isdecimal() and int(ref) < before else None

    start = by_name.get(target.lower(), len(stages) - 1) if target else len(stages) - 1
    needed: set[int] = set()
    todo = [start]
    while todo:
        i = todo.pop()
        if i in needed:
            continue
        needed.add(i)
        st = stages[i]
        refs = [expand(st.base)]
        for cmd in st.commands:
            if isinstance(cmd, t.Copy) and cmd.from_:
                refs.append(cmd.from_)
            if isinstance(cmd, t.Run):
                refs.extend(m.from_ for m in cmd.mounts if m.from_)
        for ref in refs:
            j = index_of(ref, i) if ref else None
            if j is not None and j != i:
                todo.append(j)
    return needed


def run_checks(tree: grammar.Dockerfile, given: CheckInput) -> CheckReport:
    arg_value = given.build_args.get(BUILD_ARG)
    directive = next((d for d in tree.directives if d.name == "check"), None)
    if arg_value is not None:
        config = parse_config(arg_value)
    else:
        config = parse_config(directive.value if directive else None, directive.line if directive else 0)
    meta, stages, error = _walk(tree)
    findings = from_rules.empty_continuations(tree) + from_rules.instruction_casing(tree.instructions)
    findings += from_rules.stage_names([(s.node, s.name) for s in stages])
    findings += from_rules.definition_descriptions(tree.instructions)

    scope = GlobalScope(dict(given.build_args), tree.escape, target=given.platform)
    defaults = GlobalScope({}, tree.escape, target=given.platform)
    known: dict[str, None] = {}
    for arg in meta:
        for decl in arg.args:
            for sc in (scope, defaults):
                try:
                    sc.declare(decl)
                except grammar.ShellWordError:
                    pass  # ${V:?message}: the build reports it, with its line
            known[decl.name] = None
    known.update((name, None) for name in list(scope.values) if name not in known)
    hint = Hints()

    def expand(word: str) -> str:
        try:
            return scope.expand(word)
        except grammar.ShellWordError:
            return word

    names_seen: set[str] = set()
    for st in stages:
        findings += from_rules.from_words(st.node, st.base, st.platform, st.name, known,
                                          defaults.values, names_seen, tree.escape, hint)
        names_seen.add(st.name.lower())
    wanted = set(range(len(stages))) if given.all_stages else _needed(stages, given.target, expand)
    facts: dict[int, StageFacts] = {}
    by_name = {s.name.lower(): s.index for s in stages if s.name}
    for st in stages:
        base = expand(st.base)
        parent = by_name.get(base.lower())
        if parent is not None and parent < st.index:
            start = facts[parent].copy()
        else:
            start = StageFacts(names={"PATH": None})
            if st.index in wanted and given.base is not None and base and base.lower() != "scratch":
                platform = expand(st.platform) if st.platform else ""
                env, mismatch = given.base(base, platform or None, bool(platform))
                start = StageFacts(names=dict.fromkeys(["PATH", *env]))
                if mismatch:
                    findings.append(Finding(r.INVALID_BASE_IMAGE_PLATFORM, st.node.start_line, mismatch))
        checker = StageChecker(start, tree.escape, given.ignored, hint)
        for cmd in st.commands:
            checker.command(cmd)
        facts[st.index] = checker.facts
        if st.index in wanted:
            findings += checker.finish()
    findings = [f for f in findings if config.enabled(f.rule)]
    findings.sort(key=lambda f: (f.line, f.detail))
    return CheckReport(config, findings, error)
