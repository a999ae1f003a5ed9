"""`cairn build --check` (`--call check`): evaluate the Dockerfile's build checks, run no step.

Each failed check is printed as `Dockerfile:LINE: Rule: detail` with the rule's description
under it; then the Dockerfile's first error, if it has one. Exit 0 when nothing is found,
1 when a check fails (as buildx's --check, whose result carries status 1 for any warning),
2 for a Dockerfile error, as any other command."""

from __future__ import annotations

import click

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
        echo(f"    {f.rule.description}")


def _location(line: int) -> dict:
    return {"sourceIndex": 0, "ranges": [{"start": {"line": line}, "end": {"line": line}}]}


def as_json(findings, error, name: str) -> dict:
    """BuildKit's lint result.json shape (without the rules' URLs)."""
    out = {"warnings": [{"ruleName": f.rule.name, "description": f.rule.description, "detail": f.detail,
                         "location": _location(f.line)} for f in findings],
           "sources": [{"fileName": name}]}
    if error is not None:
        out["error"] = {"message": error.message, "location": _location(error.start_line)}
    return out


def run_check(ctx, context: str, path: str, raw: bytes, name: str, build_args: dict, target: str | None,
              platform: str, fmt: str = "text") -> None:
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
        report = run_checks(tree, CheckInput(build_args, target, True, ignore_matcher(context, path),
                                             base_resolver(bases, target_platform), target_platform))
    except grammar.DockerfileError as err:
        raise Failure(dockerfile_error_text(err, name, source), 2) from err
    error, code = report.error, 2
    if error is None:
        try:
            parse_dockerfile(tree)
        except grammar.DockerfileError as err:
            error = err
    if error is None and report.violation() is not None:
        error, code = report.violation(), 1
    if fmt == "json":
        import json

        click.echo(json.dumps(as_json(report.findings, error, name), indent=2))
        if error is not None or report.findings:
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
    ctx.exit(1)
