"""One-file edit of a large context (issue 17's incremental COPY): rebuild times, interleaved.

Workload: the 20,000-file / 500 MB tree of benchmarks/build.py, built two ways:
  COPY only        FROM busybox:local / COPY . /app
  COPY + RUN       the same, then a RUN reading every file (the row of issue 17's table)
Each round edits one file and rebuilds each row with every side, in turn:
  cairn            this checkout: the COPY links the unchanged files from its earlier snapshot
  cairn before     with --before DIR, another checkout (e.g. a worktree of the commit before)
  from scratch     this checkout with --no-cache: a whole COPY (what the link replaces)
  BuildKit         docker build, in a private dockerd, when one is installed
Prints medians (seconds) and, for cairn's sides, the COPY step's own time from the metadata.

    flock /tmp/cairn-container-tests.lock python benchmarks/incremental_copy.py [--runs 3]
        [--files 20000] [--mb 500] [--before DIR] [--dir DIR]      (as root)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _tree_bench import busybox_rootfs, tree_args, work_dir
from _dockerd import load_base_image, start_dockerd, stop_dockerd
from build import files
from run_latency import BRIDGE, SUBNET, timed

REPO = Path(__file__).resolve().parents[1]
ROWS = {
    "COPY only": "FROM busybox:local\nCOPY . /app\n",
    "COPY + RUN": "FROM busybox:local\nCOPY . /app\nRUN find /app -type f | xargs cat | wc -c > /bytes\n",
}


class Side:
    """One cairn source tree with its own store (its own directory first on sys.path)."""

    def __init__(self, name: str, tree: Path, store: Path, *flags: str):
        self.name, self.tree, self.flags = name, tree, flags
        self.env = dict(os.environ, CAIRN_ROOT=str(store), CAIRN_BRIDGE=BRIDGE, CAIRN_SUBNET=SUBNET)
        subprocess.run([sys.executable, "-m", "compileall", "-q", "builder", "grammar", "runtime"], cwd=tree,
                       check=True, stdout=subprocess.DEVNULL)

    def cmd(self, *args: str) -> list[str]:
        code = f"import sys; sys.path.insert(0, {str(self.tree)!r}); from builder.cli import main; sys.exit(main())"
        return [sys.executable, "-c", code, *args]

    def build(self, ctx: Path, meta: Path) -> tuple[float, float]:
        """(wall seconds, the COPY step's seconds)."""
        seconds = timed(self.cmd("build", "--progress", "quiet", "--metadata-file", str(meta), *self.flags,
                                 str(ctx)), self.env)
        steps = json.loads(meta.read_text())["steps"]
        return seconds, next(s["seconds"] for s in steps if s["instruction"].startswith("COPY"))


def main() -> None:
    args = tree_args(__doc__, 3, before=True)
    work = work_dir("inccopy", args.dir)
    dockerd = None
    try:
        rootfs = busybox_rootfs(work)
        tree = work / "tree"
        files(tree / "src", args.files, args.mb * 1_000_000)
        ctxs = {}
        for i, (row, dockerfile) in enumerate(ROWS.items()):
            ctx = work / f"ctx{i}"
            shutil.copytree(tree, ctx / "tree", copy_function=os.link)  # (one tree on disk, two contexts)
            (ctx / "Dockerfile").write_text(dockerfile)
            ctxs[row] = ctx
        sides = [Side("cairn", REPO, work / "store")]
        if args.before:
            sides.append(Side("cairn before", Path(args.before).resolve(), work / "store-before"))
        sides.append(Side("from scratch", REPO, work / "store-scratch", "--no-cache"))
        for side in sides:
            subprocess.run(side.cmd("import", str(rootfs), "busybox:local"), env=side.env, check=True,
                           stdout=subprocess.DEVNULL)
        dockerd, denv = start_dockerd(work / "docker")
        if dockerd is not None:
            script = work / "cairn"
            script.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m builder.cli \"$@\"\n")
            script.chmod(0o755)
            load_base_image(str(script), sides[0].env, denv, work)
            denv = dict(denv, DOCKER_BUILDKIT="1")
        meta = work / "meta.json"
        for ctx in ctxs.values():  # cold builds (not counted)
            for side in sides:
                side.build(ctx, meta)
            if dockerd is not None:
                timed(["/usr/bin/docker", "build", "-q", str(ctx)], denv)
        times: dict[tuple[str, str], list[tuple[float, float | None]]] = {}
        target = sorted((tree / "src").rglob("f*"))[len(list((tree / "src").rglob("f*"))) // 2]
        for n in range(args.runs):
            for row, ctx in ctxs.items():
                (ctx / "tree" / target.relative_to(tree)).unlink()  # (a new file: the other context keeps its link)
                (ctx / "tree" / target.relative_to(tree)).write_bytes(b"edited %d\n" % n)
                for side in sides:
                    times.setdefault((row, side.name), []).append(side.build(ctx, meta))
                if dockerd is not None:
                    times.setdefault((row, "BuildKit"), []).append(
                        (timed(["/usr/bin/docker", "build", "-q", str(ctx)], denv), None))
        _print(times, args)
    finally:
        if dockerd is not None:
            stop_dockerd(dockerd, work / "docker")
        sys.path.insert(0, str(REPO))
        from runtime.network import Bridge, remove_bridge

        remove_bridge(Bridge(BRIDGE, SUBNET))
        shutil.rmtree(work, ignore_errors=True)


def _print(times: dict, args) -> None:
    print(f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}; one-file edit of {args.files} files / {args.mb} MB; "
          f"medians of {args.runs} interleaved rounds, seconds; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{'row':<12} {'side':<14} {'build':>7} {'COPY step':>10}")
    for (row, side), values in times.items():
        wall = statistics.median(v[0] for v in values)
        steps = [v[1] for v in values if v[1] is not None]
        step = f"{statistics.median(steps):10.2f}" if steps else f"{'-':>10}"
        print(f"{row:<12} {side:<14} {wall:7.2f} {step}")


if __name__ == "__main__":
    main()
