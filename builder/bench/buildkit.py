"""The same replay through BuildKit: `DOCKER_BUILDKIT=1 docker build --progress=plain`.

BuildKit prints `#N [stage i/n] RUN ...` for each step and `#N CACHED` for a hit; RUN,
COPY and ADD steps are counted as cairn counts them. BuildKit gives no reasons for its
misses, so those are recorded as "unknown (BuildKit does not say)".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from ..errors import CairnError
from .git import Commit

_STEP = re.compile(r"^#(\d+) \[(?:([^\]]*?) )?\d+/\d+\] (RUN|COPY|ADD)\b(.*)$")
_CACHED = re.compile(r"^#(\d+) CACHED$")


class NoDockerEngine(CairnError):
    pass


def docker_binary() -> str | None:
    """`$CAIRN_DOCKER`, or `docker` on PATH."""
    return os.environ.get("CAIRN_DOCKER") or shutil.which("docker")


def docker_env() -> dict:
    """The environment for `docker`; raises NoDockerEngine when no engine answers."""
    docker = docker_binary()
    if docker is None:
        raise NoDockerEngine("--builder buildkit needs the docker CLI and a running Docker engine; docker is not "
                             "installed")
    env = dict(os.environ, DOCKER_BUILDKIT="1")
    res = subprocess.run([docker, "version", "--format", "{{.Server.Version}}"], env=env, capture_output=True,
                         timeout=60)
    if res.returncode != 0:
        why = res.stderr.decode(errors="replace").strip().splitlines()
        raise NoDockerEngine("--builder buildkit needs a running Docker engine: "
                             f"{why[-1] if why else 'docker version failed'}")
    return env


def parse_plain(output: str) -> list[tuple[str, bool, str]]:
    """(instruction, cached, position) for each RUN/COPY/ADD step of a `--progress=plain` log, in order."""
    steps: dict[str, str] = {}
    order: list[str] = []
    cached: set[str] = set()
    for line in output.splitlines():
        m = _STEP.match(line)
        if m and m.group(1) not in steps:
            steps[m.group(1)] = (f"{m.group(3)}{m.group(4)}", f"{m.group(2) or ''}:{len(order)}")
            order.append(m.group(1))
            continue
        m = _CACHED.match(line)
        if m:
            cached.add(m.group(1))
    return [(steps[n][0], n in cached, steps[n][1]) for n in order]


def build_with_buildkit(commit: Commit, context: Path, dockerfile: Path, options, env: dict):
    from .records import BuildRecord, Miss, failed_build

    cmd = [docker_binary() or "docker", "build", "--progress=plain", "-f", str(dockerfile)]
    for name, value in options.build_args:
        cmd += ["--build-arg", f"{name}={value}"]
    if options.target:
        cmd += ["--target", options.target]
    cmd.append(str(context))
    t0 = time.monotonic()
    res = subprocess.run(cmd, env=env, capture_output=True, timeout=3600)
    seconds = time.monotonic() - t0
    output = res.stderr.decode(errors="replace") + res.stdout.decode(errors="replace")
    if res.returncode != 0:
        last = [line for line in output.splitlines() if line.strip()][-15:]  # (its Dockerfile:LINE listing too)
        return failed_build(commit, "docker build failed:\n" + "\n".join(last), seconds, "buildkit")
    steps = parse_plain(output)
    hits = sum(1 for _, c, _ in steps if c)
    misses = tuple(Miss(i, "", "unknown (BuildKit does not say)", "unknown", (), p) for i, c, p in steps if not c)
    return BuildRecord(commit.sha, commit.subject, commit.time, hits, len(steps) - hits, seconds, 0, misses, None,
                       "buildkit", tuple(steps))
