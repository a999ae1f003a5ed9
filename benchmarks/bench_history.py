"""`cairn bench history` on a generated repository of 30 commits with a realistic edit mix
(issue 9): prints the replay's summary, the steps that missed most, and its wall time.

The project: a Python-style service with a dependency manifest, sources, tests and docs,
and a deps-then-src Dockerfile; .dockerignore leaves docs/ out (tests/ stay in, so that
the report has something to suggest). Edit mix, seeded: 40% source edits, 20% tests, 15%
docs, 10% dependency bumps, 5% Dockerfile edits, 10% empty commits (merges, tags).

    python benchmarks/bench_history.py [--commits 30] [--seed 7] [--dir DIR]   (as root)
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CAIRN = [sys.executable, "-m", "builder.cli"]
DOCKERFILE = """FROM busybox:local
WORKDIR /app
COPY requirements.txt .
RUN mkdir -p /deps && while read d; do echo "$d" > "/deps/${{d%%=*}}"; done < requirements.txt
COPY . .
RUN find . -name '*.py' | wc -l > /app/count{suffix}
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "bench",
                        "GIT_COMMITTER_EMAIL": "b@example.com", "PATH": "/usr/bin:/bin"})


def generate(repo: Path, commits: int, seed: int) -> None:
    rng = random.Random(seed)
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "Dockerfile").write_text(DOCKERFILE.format(suffix=""))
    (repo / ".dockerignore").write_text("docs/\n.git\n")
    (repo / "requirements.txt").write_text("".join(f"pkg{i}==1.{i}\n" for i in range(40)))
    for d, n in (("app", 60), ("tests", 30), ("docs", 20)):
        (repo / d).mkdir()
        for i in range(n):
            (repo / d / f"m{i}.py" if d != "docs" else repo / d / f"page{i}.md").write_text(f"# {d} {i}\n" * 50)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial import")
    kinds = ["src"] * 8 + ["tests"] * 4 + ["docs"] * 3 + ["deps"] * 2 + ["dockerfile"] + ["empty"] * 2
    for n in range(1, commits):
        kind = rng.choice(kinds)
        if kind in ("src", "tests", "docs"):
            d = {"src": "app", "tests": "tests", "docs": "docs"}[kind]
            path = rng.choice(sorted((repo / d).iterdir()))
            path.write_text(path.read_text() + f"# edit {n}\n")
        elif kind == "deps":
            req = repo / "requirements.txt"
            req.write_text(req.read_text() + f"newpkg{n}==0.{n}\n")
        elif kind == "dockerfile":
            (repo / "Dockerfile").write_text(DOCKERFILE.format(suffix=f" && echo v{n} >> /app/count"))
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", f"{kind} change {n}")


def busybox_store(base: Path) -> Path:
    """A store under `base` with busybox:local imported (from Debian's busybox-static)."""
    root = base / "store"
    subprocess.run([str(REPO / "examples" / "busybox-rootfs.sh"), str(base / "busybox.tar")], check=True,
                   capture_output=True)
    subprocess.run([*CAIRN, "--root", str(root), "import", str(base / "busybox.tar"), "busybox:local"],
                   check=True, capture_output=True, cwd=REPO)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commits", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cairn-bench-history-", dir=args.dir))
    try:
        root = busybox_store(base)
        generate(base / "project", args.commits, args.seed)
        t0 = time.perf_counter()
        res = subprocess.run([*CAIRN, "--root", str(root), "bench", "history", "--repo", str(base / "project"),
                              "--last", str(args.commits), "--json", str(base / "h.json"), "--report",
                              str(base / "h.html")], cwd=REPO, capture_output=True)
        wall = time.perf_counter() - t0
        if res.returncode != 0:
            raise SystemExit(res.stderr.decode()[-2000:])
        print(res.stdout.decode())
        s = json.loads((base / "h.json").read_text())["summary"]
        print(f"replay of {s['builds']} commits: {wall:.1f} s wall ({wall / s['builds']:.2f} s per commit, "
              f"builds alone {s['seconds']:.1f} s); work dir {base}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
