"""Cold `cairn build` against BuildKit (docker.io's dockerd, DOCKER_BUILDKIT=1) on four workloads:

  small-files   1,000 small files, COPY . /app
  big-tree      20,000 files, ~500 MB, COPY . /data          (goal: cairn at most 0.7x BuildKit)
  four-stage    four stages with RUN steps, the last copying from the other three
  deps-then-src a dependency manifest copied and "installed" first, then the sources

Cold = an empty cairn store (base image imported outside the timing) and `--no-cache`
with an emptied builder cache for BuildKit. The two builders alternate per workload; the
figure is cairn/BuildKit (goal: at most 1.0x, 0.7x on big-tree). Without dockerd, cairn alone.

    python benchmarks/build.py [--files 20000] [--mb 500] [--dir DIR]   (as root)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _dockerd import load_base_image, start_dockerd, stop_dockerd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def files(root: Path, count: int, total_bytes: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    mean = max(1, total_bytes // max(count, 1))
    for i in range(count):
        d = root / f"d{i % 50}"
        d.mkdir(parents=True, exist_ok=True)
        size = int(rng.expovariate(1 / mean)) if total_bytes else 32
        (d / f"f{i}").write_bytes(os.urandom(size // 2) + b"x" * (size - size // 2))


def workloads(base: Path, big_files: int, big_mb: int) -> dict[str, Path]:
    out = {}
    w = base / "small-files"
    files(w / "src", 1000, 0)
    (w / "Dockerfile").write_text("FROM busybox:local\nCOPY . /app\n")
    out["small-files"] = w
    w = base / "big-tree"
    files(w / "src", big_files, big_mb * 1_000_000)
    (w / "Dockerfile").write_text("FROM busybox:local\nCOPY . /data\n")
    out["big-tree"] = w
    w = base / "four-stage"
    w.mkdir()
    (w / "Dockerfile").write_text(
        "FROM busybox:local AS one\nRUN mkdir /out && seq 1 20000 > /out/one\n"
        "FROM busybox:local AS two\nRUN mkdir /out && seq 1 20000 | sort -r > /out/two\n"
        "FROM busybox:local AS three\nRUN mkdir /out && for i in $(seq 1 200); do echo $i > /out/f$i; done\n"
        "FROM busybox:local\nCOPY --from=one /out/ /r/\nCOPY --from=two /out/ /r/\nCOPY --from=three /out/ /r/\n"
        "RUN ls /r | wc -l > /count\n")
    out["four-stage"] = w
    w = base / "deps-then-src"
    files(w / "src", 300, 3_000_000)
    (w / "deps.txt").write_text("\n".join(f"dep{i}==1.{i}" for i in range(200)) + "\n")
    (w / "Dockerfile").write_text(
        "FROM busybox:local\nWORKDIR /app\nCOPY deps.txt .\n"
        "RUN mkdir -p /deps && while read d; do echo \"$d\" > \"/deps/${d%%=*}\"; done < deps.txt\n"
        "COPY src/ ./src/\nRUN find src -type f | wc -l > /app/count\n")
    out["deps-then-src"] = w
    return out


def time_cmd(cmd, env) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed: {res.stderr.decode()[-800:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    cairn = shutil.which("cairn") or str(Path(sys.executable).with_name("cairn"))
    work = Path(tempfile.mkdtemp(prefix="cairn-bench-build-", dir=args.dir))
    dockerd = None
    try:
        rootfs = work / "busybox.tar"
        subprocess.run([str(REPO / "examples" / "busybox-rootfs.sh"), str(rootfs)], check=True)
        loads = workloads(work / "w", args.files, args.mb)
        dockerd, denv = start_dockerd(work / "docker")
        if dockerd is not None:
            seed_store = dict(os.environ, CAIRN_ROOT=str(work / "seed"))
            subprocess.run([cairn, "import", str(rootfs), "busybox:local"], env=seed_store, check=True,
                           stdout=subprocess.DEVNULL)
            load_base_image(cairn, seed_store, denv, work)
            denv = dict(denv, DOCKER_BUILDKIT="1")
        fs = subprocess.run(["df", "--output=fstype", str(work)], capture_output=True, text=True).stdout.split()[-1]
        print(f"workloads in {work} ({fs}); {os.cpu_count()} cpus; big-tree {args.files} files, {args.mb} MB")
        for name, path in loads.items():
            store = work / f"store-{name}"
            env = dict(os.environ, CAIRN_ROOT=str(store))
            subprocess.run([cairn, "import", str(rootfs), "busybox:local"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            ours = time_cmd([cairn, "build", "--progress", "quiet", "-t", f"bench-{name}", str(path)], env)
            line = f"  {name:<14} cairn {ours:7.2f}s"
            if dockerd is not None:
                subprocess.run(["/usr/bin/docker", "builder", "prune", "-af"], env=denv, capture_output=True)
                theirs = time_cmd(["/usr/bin/docker", "build", "-q", "--no-cache", "-t", f"bench-{name}", str(path)],
                                  denv)
                goal = 0.7 if name == "big-tree" else 1.0
                line += f"   BuildKit {theirs:7.2f}s   ratio {ours / theirs:5.2f}x (goal <= {goal}x)"
            print(line)
            shutil.rmtree(store, ignore_errors=True)
    finally:
        if dockerd is not None:
            stop_dockerd(dockerd, work / "docker")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
