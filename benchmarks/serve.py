"""cairn serve's speed (issue 20), interleaved rounds, medians:

  big tree no-op via CAIRN_HOST   `cairn build` of the 20,000-file context, nothing changed, run
                                  through `cairn serve` (CAIRN_HOST)   vs BuildKit (goal <= 0.3x)
  big tree no-op, no daemon       the same `cairn build` run alone (for comparison)
  docker run --rm true            the docker CLI through cairn's socket vs through dockerd
                                  (goal <= 0.5x)

    python benchmarks/serve.py [--runs 5] [--files 20000] [--mb 500] [--dir DIR]   (as root)

dockerd (from docker.io) is started privately for the reference and stopped at the end: run
this under the container lock, never beside a test run.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _tree_bench import busybox_rootfs, tree_args, work_dir
from _dockerd import load_base_image, start_dockerd, stop_dockerd
from build import workloads
from run_latency import BRIDGE, SUBNET, timed
from startup import Cairn

REPO = Path(__file__).resolve().parents[1]
DOCKER = "/usr/bin/docker"
GOALS = {"big tree no-op via CAIRN_HOST": 0.3, "docker run --rm true": 0.5}


def start_serve(cairn: Cairn, sock: Path) -> subprocess.Popen:
    proc = subprocess.Popen(cairn.cmd("serve", "--host", f"unix://{sock}"), env=cairn.env,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        if sock.exists():
            return proc
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("cairn serve did not start")


def main() -> None:
    args = tree_args(__doc__, 5)
    work = work_dir("serve", args.dir)
    dockerd = serve = None
    try:
        rootfs = busybox_rootfs(work)
        big = workloads(work / "w", args.files, args.mb)["big-tree"]
        (big / "Dockerfile").write_text("FROM busybox:local\nCOPY . /app\nRUN find /app -type f | wc -l > /count\n")
        cairn = Cairn("serve", REPO, work / "store")
        cairn.run("import", str(rootfs), "busybox:local")
        sock = work / "cairn.sock"
        serve = start_serve(cairn, sock)
        via = dict(cairn.env, CAIRN_HOST=f"unix://{sock}")
        cairn_docker = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DOCKER_HOST": f"unix://{sock}",
                        "HOME": str(work), "DOCKER_CONFIG": str(work / "docker-config")}
        dockerd, denv = start_dockerd(work / "docker")
        if dockerd is None:
            raise SystemExit("dockerd (docker.io) is needed for the reference")
        load_base_image(cairn.script(work), cairn.env, denv, work)
        denv = dict(denv, DOCKER_BUILDKIT="1")
        rows: dict[str, dict[str, list[float]]] = {}

        def add(row: str, side: str, seconds: float) -> None:
            rows.setdefault(row, {}).setdefault(side, []).append(seconds)

        build = ("build", "--progress", "quiet", str(big))
        # warm-up (not counted): the cold builds, the base unpacked, the bridges made, caches filled
        timed(cairn.cmd(*build), via)
        timed(cairn.cmd(*build), cairn.env)
        timed([DOCKER, "build", "-q", str(big)], denv)
        timed([DOCKER, "run", "--rm", "busybox:local", "true"], cairn_docker)
        timed([DOCKER, "run", "--rm", "busybox:local", "true"], denv)
        for _ in range(args.runs):
            add("big tree no-op via CAIRN_HOST", "cairn", timed(cairn.cmd(*build), via))
            add("big tree no-op via CAIRN_HOST", "reference", timed([DOCKER, "build", "-q", str(big)], denv))
            add("big tree no-op, no daemon", "cairn", timed(cairn.cmd(*build), cairn.env))
            add("docker run --rm true", "cairn", timed([DOCKER, "run", "--rm", "busybox:local", "true"], cairn_docker))
            add("docker run --rm true", "reference", timed([DOCKER, "run", "--rm", "busybox:local", "true"], denv))
        print(f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}; medians of {args.runs} interleaved rounds; "
              f"big tree {args.files} files / {args.mb} MB; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print(f"{'row':<32}{'cairn':>10}{'reference':>12}  ratio  goal")
        for row, by_side in rows.items():
            med = {s: statistics.median(v) for s, v in by_side.items()}
            line = f"{row:<32}{med['cairn'] * 1000:>8.0f}ms"
            if "reference" in med:
                ratio = med["cairn"] / med["reference"]
                goal = GOALS[row]
                line += f"{med['reference'] * 1000:>10.0f}ms  {ratio:5.2f}  <= {goal}" + \
                        ("" if ratio <= goal else "  (not met)")
            print(line)
    finally:
        if serve is not None:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=30)
        if dockerd is not None:
            stop_dockerd(dockerd, work / "docker")
        sys.path.insert(0, str(REPO))
        from runtime.network import Bridge, remove_bridge

        remove_bridge(Bridge(BRIDGE, SUBNET))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
