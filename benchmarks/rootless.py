"""Rootless against root, side by side: the deps-then-src workload (benchmarks/build.py),
cold (an empty store with the base image imported outside the timing) and no-op (the same
build again, every step cached), as root and as an ordinary user this script makes
(tests/rootless_user.py: useradd with a subordinate range; removed at the end). The two
alternate, round by round; the figures are medians and rootless/root (goal: at most 1.3x).

    python benchmarks/rootless.py [--rounds 5]   (as root)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from build import time_cmd, workloads  # benchmarks/build.py's generator and timer

from tests.rootless_user import rootless_user


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: it makes the user it measures rootless mode with")
    with rootless_user("cairnbn") as user:
        if user is None:
            raise SystemExit("no Python interpreter that a new user may run sees cairn's packages")
        work = Path(tempfile.mkdtemp(prefix="bench-", dir=user.home))
        rootfs = work / "busybox.tar"
        subprocess.run([str(REPO / "examples" / "busybox-rootfs.sh"), str(rootfs)], check=True)
        ctx = workloads(work / "w", 1, 1)["deps-then-src"]  # (the other workloads made tiny)
        user.give(work)
        os.chdir(user.home)  # a directory both may enter
        # the interpreter the user runs, and runuser as for the user: the pair differs in the mode alone
        root_cairn = ["runuser", "-u", "root", "--", *user.python, "-m", "builder.cli"]
        build = ["build", "--progress", "quiet", "-t", "bench:deps", str(ctx)]
        times: dict[str, list[float]] = {k: [] for k in ("root cold", "rootless cold", "root no-op", "rootless no-op")}
        for _ in range(args.rounds):
            root_store = work / "root-store"
            env = dict(os.environ, CAIRN_ROOT=str(root_store))
            subprocess.run([*root_cairn, "import", str(rootfs), "busybox:local"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            times["root cold"].append(time_cmd([*root_cairn, *build], env))
            times["root no-op"].append(time_cmd([*root_cairn, *build], env))
            shutil.rmtree(root_store)
            user_store = user.home / ".local" / "share" / "cairn"
            assert user.cairn("import", str(rootfs), "busybox:local").returncode == 0
            times["rootless cold"].append(time_cmd(user.command(*build), None))
            times["rootless no-op"].append(time_cmd(user.command(*build), None))
            shutil.rmtree(user_store)
        print(f"deps-then-src, {args.rounds} rounds, medians ({os.cpu_count()} cpus):")
        for kind in ("cold", "no-op"):
            root, rootless = statistics.median(times[f"root {kind}"]), statistics.median(times[f"rootless {kind}"])
            print(f"  {kind:<6} root {root:6.2f}s   rootless {rootless:6.2f}s   ratio {rootless / root:4.2f}x "
                  f"(goal <= 1.3x)")


if __name__ == "__main__":
    main()
