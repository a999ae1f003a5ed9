"""Replaying a history: one build per commit, oldest first, with one persistent store.

cairn builds run in this process (the store is the user's, or a fresh one with --cold,
kept for the whole replay: a CI runner that keeps its cache). BuildKit builds go through
`docker build` (bench/buildkit.py). A commit that cannot be built (no Dockerfile, a
Dockerfile error, a failing RUN) is recorded as failed with its error, and the replay
goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import CairnError, located
from .dockerfile_facts import read as read_facts
from .git import Commit
from .records import BuildRecord, Miss, failed_build


@dataclass(frozen=True)
class ReplayOptions:
    dockerfile: str | None = None      # path inside the repository (default CONTEXT/Dockerfile)
    context: str = "."                 # directory inside the repository
    build_args: tuple[tuple[str, str], ...] = ()
    target: str | None = None


def _paths(tree: Path, options: ReplayOptions) -> tuple[Path, Path]:
    context = (tree / options.context).resolve()
    dockerfile = (tree / options.dockerfile) if options.dockerfile else context / "Dockerfile"
    return context, dockerfile


def build_with_cairn(store, tree: Path, commit: Commit, options: ReplayOptions, base_store=None) -> BuildRecord:
    import grammar

    from ..executor.build import build
    from ..executor.options import BuildOptions
    from ..executor.progress import Progress
    from ..executor.result import COUNTED

    context, dockerfile = _paths(tree, options)
    t0 = time.monotonic()
    failed = _missing(commit, context, dockerfile, options)
    if failed is not None:
        return failed
    try:
        result = build(store, str(context), dockerfile.read_bytes(),
                       BuildOptions(target=options.target, build_args=options.build_args,
                                    dockerfile_name=dockerfile.name, base_store=base_store),
                       Progress("quiet"), str(dockerfile))
    except grammar.DockerfileError as err:
        return failed_build(commit, located(dockerfile.name, err.start_line, err.message), time.monotonic() - t0)
    except (CairnError, OSError) as err:  # (a failed RUN's message: Dockerfile:LINE, its code and last output)
        return failed_build(commit, str(err), time.monotonic() - t0)
    seconds = time.monotonic() - t0
    meta = result.metadata()
    counted = [s for s in result.steps if s.kind in COUNTED]
    misses = tuple(Miss(s.instruction, s.stage, s.explanation or "", s.miss_cause or "new",
                        tuple(s.changed_files), s.position, s.line) for s in counted if not s.cached)
    return BuildRecord(commit.sha, commit.subject, commit.time, meta["hits"], meta["misses"], seconds,
                       meta["rebuilt_bytes"], misses, None, "cairn",
                       tuple((s.instruction, s.cached, s.position) for s in counted),
                       read_facts(dockerfile, context, options.build_args))


def _missing(commit: Commit, context: Path, dockerfile: Path, options: ReplayOptions,
             builder: str = "cairn") -> BuildRecord | None:
    if not context.is_dir():
        return failed_build(commit, f"the context {options.context} does not exist at this commit", 0.0, builder)
    if not dockerfile.is_file():
        rel = options.dockerfile or str(Path(options.context) / "Dockerfile")
        return failed_build(commit, f"{rel} does not exist at this commit", 0.0, builder)
    return None


def replay(repo: Path, commits: list[Commit], options: ReplayOptions, builder: str, store=None,
           on_build=lambda index, record: None, docker_env=None, base_store=None) -> list[BuildRecord]:
    """`base_store`: where a fresh `store` takes the base images it lacks (the user's store)."""
    from .git import worktree

    records = []
    with worktree(repo) as (tree, checkout):
        for index, commit in enumerate(commits):
            checkout(commit.sha)
            if builder == "buildkit":
                from .buildkit import build_with_buildkit

                context, dockerfile = _paths(tree, options)
                record = _missing(commit, context, dockerfile, options, "buildkit") or \
                    build_with_buildkit(commit, context, dockerfile, options, docker_env)
                if record.error is None:
                    record = replace(record, facts=read_facts(dockerfile, context, options.build_args))
            else:
                record = build_with_cairn(store, tree, commit, options, base_store)
            records.append(record)
            on_build(index, record)
    return records
