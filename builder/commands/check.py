"""`cairn build --check` (`--call check`) and `cairn check`: evaluate the Dockerfile's build
checks (BuildKit's and cairn's cache rules, builder/checks/cache_rules.py), run no step.

Each failed check is printed as `Dockerfile:LINE: Rule: detail` with the rule's fix (or its
description) under it; then the Dockerfile's first error, if it has one. `build --check` exits
1 when a check fails (as buildx's --check, whose result carries status 1 for any warning);
`cairn check` exits 1 only for a finding at error level (or any, with `# check=error=true`).
Both exit 2 for a Dockerfile error, as any other command."""

from __future__ import annotations

import click

from . import cli
from .common import Failure, dockerfile_error_text, open_store


def check_command(ctx, context: str, dockerfile: str | None, build_args: dict, target: str | None, platform: str,
                  fmt: str) -> None:
    """Where the Dockerfile is (CONTEXT, -f, or `-`: stdin, a Dockerfile or a context tar), then run_check."""
    from .build import read_dockerfile_for_call

    context, path, raw, name = read_dockerfile_for_call(ctx, context, dockerfile)
    run_check(ctx, context, path, raw, name, build_args, target, platform, fmt)


def print_findings(findings, name: str, echo) -> None:
    for f in findings:
        echo(f.short(name))
        if f.fix:
            first, *more = f.fix.split("\n")
            echo(f"    fix: {first}")
            for line in more:
                echo(f"        {line}")
        else:
            echo(f"    {f.rule.description}")


def _location(line: int) -> dict:
    return {"sourceIndex": 0, "ranges": [{"start": {"line": line}, "end": {"line": line}}]}


def as_json(findings, error, name: str) -> dict:
    """BuildKit's lint result.json shape (without the rules' URLs)."""
    out = {"warnings": [{"ruleName": f.rule.name, "description": f.rule.description, "detail": f.detail,
                         "location": _location(f.line), **({"fix": f.fix} if f.fix else {}),
                         "level": f.rule.level} for f in findings],
           "sources": [{"fileName": name}]}
    if error is not None:
        out["error"] = {"message": error.message, "location": _location(error.start_line)}
    return out


def run_check(ctx, context: str, path: str, raw: bytes, name: str, build_args: dict, target: str | None,
              platform: str, fmt: str = "text", cairn: bool = False) -> None:
    """`cairn: True`: `cairn check` (fixes for BuildKit's rules too; exit 1 only at error level)."""
    import grammar

    from .. import platforms
    from ..checks import CheckInput, run_checks
    from ..checks.inputs import StoredBases, base_resolver, ignore_matcher
    from ..instructions import parse_dockerfile

    source = grammar.parser.decode(raw)
    try:
        tree = grammar.parse(raw)
        target_platform = platforms.parse(platform) if platform else platforms.host()
        bases = StoredBases(open_store(ctx))
        ignored = ignore_matcher(context, path)
        report = run_checks(tree, CheckInput(build_args, target, True, ignored,
                                             base_resolver(bases, target_platform), target_platform))
    except grammar.DockerfileError as err:
        raise Failure(dockerfile_error_text(err, name, source), 2) from err
    error, code = report.error, 2
    if error is None:
        try:
            plan = parse_dockerfile(tree)
        except grammar.DockerfileError as err:
            error = err
        else:
            report.findings = _with_cache_rules(report, plan, context, ignored, build_args, cairn)
    if error is None and report.violation() is not None:
        error, code = report.violation(), 1
    failed = bool(report.findings) if not cairn else (
        report.config.error and bool(report.findings)) or any(f.rule.level == "error" for f in report.findings)
    if fmt == "json":
        import json

        click.echo(json.dumps(as_json(report.findings, error, name), indent=2))
        if error is not None or failed:
            ctx.exit(code if error is not None else 1)
        return
    print_findings(report.findings, name, click.echo)
    if error is not None:
        if report.findings:
            click.echo("")
        raise Failure(dockerfile_error_text(error, name, source), code)
    if not report.findings:
        click.echo("Check complete, no warnings found.")
        return
    if failed:
        ctx.exit(1)


def _with_cache_rules(report, plan, context: str, ignored, build_args: dict, cairn: bool) -> list:
    """The report's findings with cairn's cache rules' (those the check config enables), in line order."""
    import dataclasses

    from ..checks.cache_rules import FIXES, CacheInput, cache_findings

    found = [f for f in cache_findings(plan, CacheInput(context, ignored, build_args)) if report.config.enabled(f.rule)]
    findings = list(report.findings)
    if cairn:
        findings = [dataclasses.replace(f, fix=FIXES.get(f.rule.name, f.fix)) for f in findings]
    return sorted(findings + found, key=lambda f: (f.line, f.rule.name, f.detail))


@cli.command("check")
@click.option("-f", "--file", "dockerfile", default=None, help="Name of the Dockerfile (default: CONTEXT/Dockerfile).")
@click.option("--build-arg", "build_args", multiple=True, help="Set a build-time variable (as `cairn build`).")
@click.option("--target", default=None, help="The stage to check for (the checks read every stage).")
@click.option("--platform", default="", help="Target platform (for InvalidBaseImagePlatform).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
@click.option("--history", "history", type=click.IntRange(min=2), default=None, metavar="N",
              help="Replay the last N commits of CONTEXT's git repository and rank the rules by the misses "
                   "they caused (builds every commit: needs root).")
@click.argument("context", default=".")
@click.pass_context
def check(ctx, dockerfile, build_args, target, platform, fmt, context, history):
    """Check a Dockerfile for cache-hostile patterns and BuildKit's build-check rules; run nothing.

    Each finding names its rule, its line and a fix. Exit status: 0 when no finding is at error
    level, 1 when one is (every finding is, with `# check=error=true`), 2 for a bad Dockerfile."""
    from ..args import parse_build_args
    from .build import read_dockerfile_for_call

    if history is not None:
        return _history(ctx, context, dockerfile, parse_build_args(list(build_args)), target, history, fmt)
    context, path, raw, name = read_dockerfile_for_call(ctx, context, dockerfile)
    run_check(ctx, context, path, raw, name, parse_build_args(list(build_args)), target, platform, fmt, cairn=True)


def _history(ctx, context: str, dockerfile: str | None, build_args: dict, target, last: int, fmt: str) -> None:
    import os
    from pathlib import Path

    from ..bench.git import toplevel
    from ..bench.rule_misses import rank
    from ..errors import UsageError
    from .bench import _store

    if os.geteuid() != 0:
        raise UsageError("cairn check --history builds every commit: it needs root")
    if not os.path.isdir(context):
        raise UsageError(f"build context {context!r} is not a directory")
    top = toplevel(Path(context))
    context_rel = os.path.relpath(os.path.realpath(context), top)
    dockerfile_rel = os.path.relpath(os.path.realpath(dockerfile), top) if dockerfile else None
    if context_rel.startswith("..") or (dockerfile_rel or "").startswith(".."):
        raise UsageError("--history: the context and the Dockerfile must be inside the git repository")

    def show(index, total, record):
        state = "failed: " + record.error.splitlines()[0] if record.error else f"{record.misses} misses"
        click.echo(f"[{index + 1}/{total}] {record.commit[:10]} {record.subject[:50]}: {state}", err=True)

    with _store(ctx, True) as store:
        result = rank(top, context_rel, dockerfile_rel, last, tuple(build_args.items()), target, store,
                      open_store(ctx), show)
    if fmt == "json":
        import json

        click.echo(json.dumps(result, indent=2))
    else:
        misses = result["misses"]
        named = misses - result["unexplained"]
        share = f" ({100 * named // misses}%)" if misses else ""
        click.echo(f"{result['commits']} commits replayed; {misses} misses after the first (cold) build, "
                   f"{named} caused by these rules{share}:")
        for rule, count in sorted(result["rules"].items(), key=lambda kv: (-kv[1], kv[0])):
            click.echo(f"  {rule:<28} {count:>5}")
        click.echo(f"  {'(a change no rule explains)':<28} {result['unexplained']:>5}")
    if result["failed"]:
        ctx.exit(1)
