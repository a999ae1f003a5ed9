"""Issue 18's done-when figure: on a generated realistic 30-commit history (tests/app_history.py:
a node-style app whose commits edit sources, tests, docs, manifests, the README, the
Dockerfile and .dockerignore), the share of the misses the replay records whose rule
`cairn check --history 30` names.

    python benchmarks/check_history.py [--commits 30] [--seed 18] [--seed 3 ...]   (as root)

Prints, for each seed, the ranking as `cairn check` prints it, the figure, and the wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.bench_history import CAIRN, busybox_store  # noqa: E402
from tests.app_history import SEED, generate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commits", type=int, default=30)
    ap.add_argument("--seed", type=int, action="append", default=None)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cairn-check-history-", dir=args.dir))
    try:
        root = busybox_store(base)
        for seed in args.seed or [SEED]:
            repo = base / f"shop-{seed}"
            kinds = generate(repo, args.commits, seed)
            t0 = time.perf_counter()
            text = subprocess.run([*CAIRN, "--root", str(root), "check", "--history", str(args.commits), str(repo)],
                                  cwd=REPO, capture_output=True)
            wall = time.perf_counter() - t0
            if text.returncode != 0:
                raise SystemExit(text.stderr.decode()[-3000:])
            res = subprocess.run([*CAIRN, "--root", str(root), "check", "--history", str(args.commits), "--format",
                                  "json", str(repo)], cwd=REPO, capture_output=True, check=True)
            doc = json.loads(res.stdout)
            named = doc["misses"] - doc["unexplained"]
            mix = ", ".join(f"{k} {n}" for k, n in Counter(kinds[1:]).most_common())
            print(f"seed {seed}: {args.commits} commits ({mix})")
            print(text.stdout.decode().rstrip())
            print(f"figure: the rules named behind {named} of {doc['misses']} misses = "
                  f"{100 * named / doc['misses'] if doc['misses'] else 0:.1f}% "
                  f"(cold build: {doc['cold_misses']} misses, counted apart); {wall:.1f} s wall\n")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
