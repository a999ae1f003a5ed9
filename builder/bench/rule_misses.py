"""`cairn check --history N`: which rules caused the cache misses of the last N commits.

The commits are replayed oldest first with the bench replay (builder/bench/replay.py) into a
fresh store (base images from the user's); at each commit the cache rules run on that
commit's Dockerfile, and each miss is charged to the finding whose cost it is:

    CopyContextBeforeInstall, ManifestCopiedWithSources: when the COPY missed, the install
        and each step after it in the stage (the COPY's own miss is the source change);
    VolatileContextPath: when the COPY missed on volatile paths only, it and each step after;
    PerBuildValueEarly, SourceDateEpochPerCommit, AddRemoteWithoutChecksum: the step at the
        finding's RUN (WORKDIR, ADD) line and each after it.

The first build starts cold: its misses are new steps, counted apart."""

from __future__ import annotations

import re
from pathlib import Path

from ..checks import cache_rules as c

_AT_LINE = re.compile(r"at line (\d+)")
_SOURCE_RULES = (c.COPY_CONTEXT_BEFORE_INSTALL.name, c.MANIFEST_COPIED_WITH_SOURCES.name)


def _step_lines(plan) -> dict[tuple[str, int], tuple[int, int]]:
    """(stage label, index) -> (stage index, line), the labels as positions write them."""
    out = {}
    for s in plan.stages:
        for i, cmd in enumerate(s.commands):
            for label in {s.name, str(s.index)} - {""}:
                out[(label, i)] = (s.index, cmd.start_line)
    return out


def _place(position: str, lines) -> tuple[int, int] | None:
    parts = position.rsplit(":", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return lines.get((parts[1], int(parts[2])))


def charge(plan, findings, misses) -> list[str | None]:
    """For each miss of one build, the rule it is charged to (None: a change no rule explains)."""
    lines = _step_lines(plan)
    stage_of = {cmd.start_line: s.index for s in plan.stages for cmd in s.commands}
    placed = [_place(m.position, lines) for m in misses]
    missed = {p[1]: m for p, m in zip(placed, misses) if p is not None}
    claims = []  # (stage, from line, rule)
    for f in findings:
        stage = stage_of.get(f.line)
        if stage is None:
            continue
        at = _AT_LINE.search(f.detail)
        if f.rule.name in _SOURCE_RULES:
            if f.line in missed and at:
                claims.append((stage, int(at.group(1)), f.rule.name))
        elif f.rule.name == c.VOLATILE_CONTEXT_PATH.name:
            miss = missed.get(f.line)
            name = f.detail.split(" picks up ", 1)[-1].split(" ", 1)[0]
            if miss is not None and miss.changed_files and all(
                    p.lstrip("/").split("/")[0] == name for p in miss.changed_files):
                claims.append((stage, f.line, f.rule.name))
        elif f.rule.name == c.PER_BUILD_VALUE_EARLY.name and at:
            claims.append((stage, int(at.group(1)), f.rule.name))
        elif f.rule.name in (c.EPOCH_STAMPS_WORKDIR.name, c.ADD_REMOTE_WITHOUT_CHECKSUM.name):
            claims.append((stage, f.line, f.rule.name))
    out = []
    for p in placed:
        rules = sorted((line, rule) for stage, line, rule in claims if p is not None and stage == p[0] and line <= p[1])
        out.append(rules[0][1] if rules else None)
    return out


def rank(repo: Path, context_rel: str, dockerfile_rel: str | None, last: int, build_args: tuple, target, store,
         base_store, on_build=lambda i, n, record: None) -> dict:
    """Replay the last commits and charge their misses: {"commits", "cold_misses", "misses",
    "rules": {rule: count}, "unexplained"}."""
    import grammar

    from ..checks.inputs import ignore_matcher
    from ..instructions import parse_dockerfile
    from .git import commits, worktree
    from .replay import ReplayOptions, build_with_cairn

    chosen = commits(repo, last)
    options = ReplayOptions(dockerfile_rel, context_rel, build_args, target)
    result = {"commits": len(chosen), "cold_misses": 0, "misses": 0, "rules": {}, "unexplained": 0, "failed": 0}
    with worktree(repo) as (tree, checkout):
        for index, commit in enumerate(chosen):
            checkout(commit.sha)
            record = build_with_cairn(store, tree, commit, options, base_store)
            on_build(index, len(chosen), record)
            if record.error is not None:
                result["failed"] += 1
                continue
            if index == 0:
                result["cold_misses"] = record.misses
                continue
            context = (tree / context_rel).resolve()
            path = tree / dockerfile_rel if dockerfile_rel else context / "Dockerfile"
            try:
                plan = parse_dockerfile(grammar.parse(path.read_bytes()))
            except (grammar.DockerfileError, OSError):
                continue
            findings = c.cache_findings(plan, c.CacheInput(str(context), ignore_matcher(str(context), str(path)),
                                                           dict(build_args)))
            for rule in charge(plan, findings, record.misses_explained):
                result["misses"] += 1
                if rule is None:
                    result["unexplained"] += 1
                else:
                    result["rules"][rule] = result["rules"].get(rule, 0) + 1
    return result
