"""Start-up latency of `cairn run --rm IMAGE true` against runc and docker, same image.

In one run, interleaved, medians of N (default 10):
  cairn run --rm busybox:local true                (default bridge network)
  cairn run --rm --network none busybox:local true
  runc run (bundle on the same busybox rootfs, its default namespaces, no network)
  docker run --rm [--network none] busybox:local true   (a private dockerd, when installed)

Goals (issue 4): bridge at most 0.5x docker's time; --network none at most 4x runc's.
Everything is made in a temp dir and removed: the store, a bridge `cairnb0`
(10.90.0.0/24), the runc bundle, dockerd's data root and its docker0 bridge, the spare
cgroups `run` keeps (runtime.cgroup_pool).

cairn runs from this checkout, byte-compiled first as `pip install .` leaves an installed
cairn: with PYTHONDONTWRITEBYTECODE set (as on the test machines) and a .pyc older than
its source, every start would compile that module again (58 of 297 modules on main at
session 25's start: tens of ms a start, not cairn's).

    python benchmarks/run_latency.py [--runs 10]   (as root)
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _dockerd import load_base_image, start_dockerd, stop_dockerd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BRIDGE, SUBNET = "cairnb0", "10.90.0.0/24"


def timed(cmd, env=None) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {res.stderr.decode()[-500:]}")
    return elapsed


def runc_bundle(bundle: Path, rootfs_tar: Path) -> Path:
    """A runc bundle on the same rootfs: runc's default spec (its namespaces, no network), `true`."""
    (bundle / "rootfs").mkdir(parents=True)
    subprocess.run(["tar", "-C", str(bundle / "rootfs"), "-xf", str(rootfs_tar)], check=True)
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["true"]
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    cairn = shutil.which("cairn") or str(Path(sys.executable).with_name("cairn"))
    work = Path(tempfile.mkdtemp(prefix="cairn-bench-run-"))
    env = dict(os.environ, CAIRN_ROOT=str(work / "store"), CAIRN_BRIDGE=BRIDGE, CAIRN_SUBNET=SUBNET,
               PYTHONPATH=str(REPO))
    for package in ("builder", "grammar", "runtime"):
        compileall.compile_dir(str(REPO / package), quiet=1)
    dockerd = None
    try:
        rootfs_tar = work / "busybox.tar"
        subprocess.run([str(REPO / "examples" / "busybox-rootfs.sh"), str(rootfs_tar)], check=True)
        subprocess.run([cairn, "import", str(rootfs_tar), "busybox:local"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        bundle = runc_bundle(work / "bundle", rootfs_tar)

        sides = {
            "cairn bridge": lambda i: timed([cairn, "run", "--rm", "busybox:local", "true"], env),
            "cairn none": lambda i: timed([cairn, "run", "--rm", "--network", "none", "busybox:local", "true"], env),
            "runc": lambda i: timed(["runc", "--root", str(work / "runc-state"), "run", "--bundle", str(bundle),
                                     f"bench-{os.getpid()}-{i}"]),
        }
        dockerd, denv = start_dockerd(work / "docker")
        if dockerd is not None:
            load_base_image(cairn, env, denv, work)
            sides["docker bridge"] = lambda i: timed(["/usr/bin/docker", "run", "--rm", "busybox:local", "true"], denv)
            sides["docker none"] = lambda i: timed(["/usr/bin/docker", "run", "--rm", "--network", "none",
                                                    "busybox:local", "true"], denv)
        for name, fn in sides.items():  # warm-up: page cache, bridge creation, image unpack
            fn(-1)
        results: dict[str, list[float]] = {name: [] for name in sides}
        for i in range(args.runs):
            for name, fn in sides.items():
                results[name].append(fn(i))
        med = {name: statistics.median(v) for name, v in results.items()}
        print(f"machine: {os.cpu_count()} cpus; median of {args.runs} runs each, interleaved")
        for name, value in med.items():
            print(f"  {name:<14} {value * 1000:7.1f} ms")
        if "docker bridge" in med:
            print(f"cairn bridge / docker bridge = {med['cairn bridge'] / med['docker bridge']:.2f}x (goal <= 0.5x)")
            print(f"cairn none / docker none     = {med['cairn none'] / med['docker none']:.2f}x")
        else:
            print("docker: not installed here, not measured")
        print(f"cairn none / runc            = {med['cairn none'] / med['runc']:.2f}x (goal <= 4x)")
    finally:
        if dockerd is not None:
            stop_dockerd(dockerd, work / "docker")
        from runtime.cgroups import Cgroup
        from runtime.network import Bridge, remove_bridge

        remove_bridge(Bridge(BRIDGE, SUBNET))
        Cgroup.drain_pool()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
