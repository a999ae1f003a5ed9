"""`cairn bench history` and `cairn bench compare`: cache hit rates over a git history."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import click

from . import cli
from .common import open_store


@cli.group("bench")
def bench_group():
    """Measure cache hit rates over a project's history."""


def _replay_options(f):
    for option in reversed([
        click.option("--repo", default=".", type=click.Path(file_okay=False), help="The git repository (default .)."),
        click.option("--last", type=click.IntRange(min=1), default=None, help="Replay the last N commits (default 10)."),
        click.option("--rev-range", default=None, metavar="A..B", help="Replay the commits of this range."),
        click.option("--context", "context", default=".", metavar="SUBDIR", help="Build context inside the repository."),
        click.option("--build-arg", "build_args", multiple=True, metavar="NAME=VALUE", help="Set a build arg."),
        click.option("--target", default=None, help="Build up to this stage."),
        click.option("--cold", is_flag=True, help="Start from an empty store (kept for the whole replay; base "
                                                  "images come from the store, or are pulled)."),
        click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False), help="Write JSON here."),
        click.option("--csv", "csv_out", default=None, type=click.Path(dir_okay=False), help="Write CSV here."),
        click.option("--report", "report_out", default=None, type=click.Path(dir_okay=False),
                     help="Write a self-contained HTML report here."),
    ]):
        f = option(f)
    return f


def _check(last, rev_range, repo):
    from ..bench.git import toplevel
    from ..errors import UsageError

    if last and rev_range:
        raise UsageError("--last and --rev-range cannot be used together")
    if os.geteuid() != 0:
        raise UsageError("cairn bench builds images: it needs root")
    from pathlib import Path

    return toplevel(Path(repo))


@contextmanager
def _store(ctx, cold: bool):
    if not cold:
        yield open_store(ctx)
        return
    import shutil
    import tempfile

    from ..store.store import Store

    root = tempfile.mkdtemp(prefix="cairn-bench-store-")
    store = Store(root)
    try:
        yield store
    finally:
        store.close()
        shutil.rmtree(root, ignore_errors=True)


def _progress(total: int):
    def show(index, record):
        from ..bench.report import table_row

        click.echo(table_row(index, total, record), err=True)
        sys.stderr.flush()
    return show


@bench_group.command("history")
@_replay_options
@click.option("-f", "--file", "dockerfile", default=None, help="Dockerfile, inside the repository (default CONTEXT/Dockerfile).")
@click.option("--builder", type=click.Choice(["cairn", "buildkit"]), default="cairn", show_default=True,
              help="Replay with cairn, or with BuildKit (docker build) for comparison.")
@click.pass_context
def history_cmd(ctx, repo, last, rev_range, context, build_args, target, cold, json_out, csv_out, report_out,
                dockerfile, builder):
    """Build each commit (oldest first) and report cache hits, misses and their causes.

    The steps are ranked by root cause (the first step that missed in a build), each with its
    Dockerfile line and a fix. Exit status 1 when any build failed (its reason printed whole)."""
    from ..args import parse_build_args
    from ..bench import report
    from ..bench.git import commits
    from ..bench.replay import ReplayOptions, replay

    top = _check(last, rev_range, repo)
    docker_env = None
    if builder == "buildkit":
        from ..bench.buildkit import docker_binary
        from ..bench.buildkit import docker_env as engine

        docker_env = engine()
        if cold:
            import subprocess

            subprocess.run([docker_binary(), "builder", "prune", "-af"], env=docker_env, capture_output=True)
    chosen = commits(top, last, rev_range)
    options = ReplayOptions(dockerfile, context, tuple(parse_build_args(list(build_args)).items()), target)
    with _store(ctx, cold) as store:
        records = replay(top, chosen, options, builder, store, _progress(len(chosen)), docker_env,
                         open_store(ctx) if cold else None)
    _write(records, json_out, csv_out, report_out, f"cairn bench history: {top.name} ({builder})")
    click.echo(report.terminal_summary(records))
    if any(r.error is not None for r in records):
        ctx.exit(1)


@bench_group.command("compare")
@_replay_options
@click.argument("dockerfile_a", type=click.Path(dir_okay=False))
@click.argument("dockerfile_b", type=click.Path(dir_okay=False))
@click.pass_context
def compare_cmd(ctx, repo, last, rev_range, context, build_args, target, cold, json_out, csv_out, report_out,
                dockerfile_a, dockerfile_b):
    """Replay the same history with two Dockerfiles (each from an empty store) side by side.

    A Dockerfile that exists here is used for every commit; otherwise it is a path inside
    the repository. --report writes one page with A and B side by side. Exit status 1 when
    any build failed."""
    import json
    from pathlib import Path

    from ..args import parse_build_args
    from ..bench import report
    from ..bench.git import commits
    from ..bench.replay import ReplayOptions, replay

    top = _check(last, rev_range, repo)
    chosen = commits(top, last, rev_range)
    sides = {}
    for name, path in (("A", dockerfile_a), ("B", dockerfile_b)):
        chosen_path = str(Path(path).resolve()) if Path(path).is_file() else path
        options = ReplayOptions(chosen_path, context, tuple(parse_build_args(list(build_args)).items()), target)
        click.echo(f"{name}: {path}", err=True)
        with _store(ctx, True) as store:
            sides[name] = replay(top, chosen, options, "cairn", store, _progress(len(chosen)),
                                 base_store=open_store(ctx))
    a, b = sides["A"], sides["B"]
    click.echo(f"{'commit':<10}  {'A hits':>7} {'A rate':>7} {'A s':>6}   {'B hits':>7} {'B rate':>7} {'B s':>6}  subject")
    for ra, rb in zip(a, b):
        def cell(r):
            return f"{'failed':>22}" if r.error else f"{r.hits:>3}/{r.hits + r.misses:<3} {r.hit_rate * 100:6.1f}% {r.seconds:6.2f}"
        click.echo(f"{ra.commit[:10]}  {cell(ra)}   {cell(rb)}  {ra.subject[:40]}")
    sa, sb = report.summary(a), report.summary(b)
    click.echo(f"A {dockerfile_a}: hit rate {sa['hit_rate'] * 100:.1f}%, {sa['seconds']:.1f} s")
    click.echo(f"B {dockerfile_b}: hit rate {sb['hit_rate'] * 100:.1f}%, {sb['seconds']:.1f} s")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"a": {"dockerfile": dockerfile_a, **report.to_json(a)},
                       "b": {"dockerfile": dockerfile_b, **report.to_json(b)}}, f, indent=2)
    if csv_out:
        report.write_csv(a + b, csv_out)
    if report_out:
        from ..bench import html_report

        html_report.write(report_out, html_report.compare_page(a, b, dockerfile_a, dockerfile_b,
                                                               f"cairn bench compare: {top.name}"))
    failed = [(name, line) for name, records in (("A", a), ("B", b)) for line in report.failures(records)]
    for name, line in failed:
        click.echo(f"{name} {line}" if line.startswith("FAILED") else line)
    if failed:
        ctx.exit(1)


def _write(records, json_out, csv_out, report_out, title) -> None:
    from ..bench import report

    if json_out:
        report.write_json(records, json_out)
    if csv_out:
        report.write_csv(records, csv_out)
    if report_out:
        from ..bench import html_report

        html_report.write(report_out, html_report.history_page(records, title))
