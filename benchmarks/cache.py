"""Rebuild times with the layer cache, against BuildKit and the stat floor, in one run.

Workloads (as benchmarks/build.py: small-files, big-tree, deps-then-src) x scenarios:
cold, no-op (nothing changed), touch-only (every file's mtime changed), one-file edit,
Dockerfile edit (the last instruction). Prints seconds and RUN/COPY/ADD hits for cairn,
BuildKit's time (when dockerd is installed) and the stat floor: `find CONTEXT -printf
'%s %T@'`, the least a builder must do to see that nothing changed.

Goals (issue 6): no-op rebuild of the 20,000-file context at most 2x the stat floor and at
most 0.5x BuildKit; touch-only no slower than reading and xxh3-hashing the files (the
"read floor", also printed).

    python benchmarks/cache.py [--files 20000] [--mb 500] [--dir DIR]   (as root)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import xxhash
from _dockerd import load_base_image, start_dockerd, stop_dockerd
from build import workloads

REPO = Path(__file__).resolve().parents[1]


def floor_stat(ctx: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["find", str(ctx), "-printf", "%s %T@\\n"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def floor_read(ctx: Path) -> float:
    """Walk, read and xxh3-hash every file, the fastest way found in Python here (one
    os.read and one hash call per file; open() + read() loop + update() is ~3x slower)."""
    t0 = time.perf_counter()
    for dirpath, _dirs, files in os.walk(ctx):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                h = xxhash.xxh3_128()
                while chunk := os.read(fd, 8 << 20):
                    h.update(chunk)
                h.hexdigest()
            finally:
                os.close(fd)
    return time.perf_counter() - t0


def cairn_build(cairn: str, env: dict, ctx: Path, meta: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run([cairn, "build", "--progress", "quiet", "--metadata-file", str(meta), str(ctx)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(res.stderr.decode()[-800:])
    doc = json.loads(meta.read_text())
    return elapsed, f"{doc['hits']}/{doc['hits'] + doc['misses']}"


def buildkit(denv: dict, ctx: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["/usr/bin/docker", "build", "-q", str(ctx)], env=denv, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    cairn = shutil.which("cairn") or str(Path(sys.executable).with_name("cairn"))
    work = Path(tempfile.mkdtemp(prefix="cairn-bench-cache-", dir=args.dir))
    dockerd = None
    try:
        rootfs = work / "busybox.tar"
        subprocess.run([str(REPO / "examples" / "busybox-rootfs.sh"), str(rootfs)], check=True)
        loads = {k: v for k, v in workloads(work / "w", args.files, args.mb).items() if k != "four-stage"}
        env = dict(os.environ, CAIRN_ROOT=str(work / "store"))
        subprocess.run([cairn, "import", str(rootfs), "busybox:local"], env=env, check=True, stdout=subprocess.DEVNULL)
        dockerd, denv = start_dockerd(work / "docker")
        if dockerd is not None:
            load_base_image(cairn, env, denv, work)
            denv = dict(denv, DOCKER_BUILDKIT="1")
        print(f"{os.cpu_count()} cpus; big-tree {args.files} files, {args.mb} MB; times in seconds")
        for name, ctx in loads.items():
            print(f"{name}: stat floor {floor_stat(ctx):.2f}s, read floor {floor_read(ctx):.2f}s")
            meta = work / "meta.json"
            files = [p for p in ctx.rglob("*") if p.is_file() and p.name != "Dockerfile"]
            scenarios = [
                ("cold", lambda: None),
                ("no-op", lambda: None),
                ("touch-only", lambda: [os.utime(p) for p in files]),
                ("one-file edit", lambda: files[len(files) // 2].write_bytes(b"edited")),
                ("Dockerfile edit", lambda: (ctx / "Dockerfile").write_text(
                    (ctx / "Dockerfile").read_text() + "LABEL edited=1\nRUN true\n")),
            ]
            for label, change in scenarios:
                change()
                ours, hits = cairn_build(cairn, env, ctx, meta)
                line = f"  {label:<16} cairn {ours:6.2f}s (hits {hits})"
                if dockerd is not None:
                    line += f"   BuildKit {buildkit(denv, ctx):6.2f}s"
                if label == "no-op":
                    line += f"   stat floor {floor_stat(ctx):.2f}s"
                print(line, flush=True)
    finally:
        if dockerd is not None:
            stop_dockerd(dockerd, work / "docker")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
