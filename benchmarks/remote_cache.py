"""A shared cache through a registry (issue 8): a CI runner born empty, with `--cache-from`.

Workloads: four-stage and deps-then-src (as benchmarks/build.py), based on an image in a
local distribution registry (`docker-registry serve` on 127.0.0.1, storage on the work
disk). Runner A builds once with `--cache-to type=registry,...,mode=max`. Then, in
rounds, interleaved:

  cold            an empty store, no cache (pulls the base, runs every step)
  local no-op     A's store again, nothing changed (the floor a remote cache is held to)
  remote cached   an empty store with --cache-from (downloads the cache manifest only)
  remote + push   the same, pushing the result to the same registry (still no layer bytes)
  BuildKit        when dockerd is installed: inline-cache image pushed by a first build, then
                  `docker builder prune -af` and `docker build --cache-from IMAGE`

Goal: remote cached within 1.5x of the local no-op. Prints medians and ratios.

    python benchmarks/remote_cache.py [--rounds 3] [--dir DIR] [--no-buildkit]   (as root)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _dockerd import start_dockerd, stop_dockerd  # noqa: E402
from build import workloads  # noqa: E402

from tests.registry_server import Registry  # noqa: E402

CAIRN = [sys.executable, "-m", "builder.cli"]
WORKLOADS = ("four-stage", "deps-then-src")


def timed(cmd, env=None) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True)
    seconds = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed: {res.stderr.decode()[-1500:]}")
    return seconds, res.stderr.decode()


def cairn_build(root: Path, ctx: Path, *args) -> tuple[float, str]:
    meta = root.parent / f"{root.name}.json"
    seconds, _ = timed([*CAIRN, "--root", str(root), "build", "--progress", "quiet", "--metadata-file", str(meta),
                        *args, str(ctx)])
    doc = json.loads(meta.read_text())
    return seconds, f"{doc['hits']}/{doc['hits'] + doc['misses']} hits"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--no-buildkit", action="store_true")
    args = ap.parse_args()
    base_dir = Path(tempfile.mkdtemp(prefix="cairn-bench-remote-", dir=args.dir))
    reg = Registry(base_dir / "registry", "plain")
    dockerd = denv = None
    times: dict[tuple[str, str], list[float]] = {}
    notes: dict[tuple[str, str], str] = {}

    def note(w: str, what: str, seconds: float, extra: str = "") -> None:
        times.setdefault((w, what), []).append(seconds)
        notes[(w, what)] = extra
        print(f"  {w:<14} {what:<16} {seconds:6.2f} s  {extra}", flush=True)

    try:
        src = base_dir / "src-store"
        subprocess.run([str(REPO / "examples" / "busybox-rootfs.sh"), str(base_dir / "busybox.tar")], check=True,
                       capture_output=True)
        timed([*CAIRN, "--root", str(src), "import", str(base_dir / "busybox.tar"), "busybox:local"])
        base_ref = f"{reg.host}/base/busybox:1"
        timed([*CAIRN, "--root", str(src), "push", "-q", "--compression", "gzip", "busybox:local", base_ref])  # docker 20.10 reads no zstd
        ctxs = workloads(base_dir / "w", 10, 1)
        for w in WORKLOADS:
            df = ctxs[w] / "Dockerfile"
            df.write_text(df.read_text().replace("busybox:local", base_ref))
        if not args.no_buildkit:
            (base_dir / "dockerd").mkdir()
            dockerd, denv = start_dockerd(base_dir / "dockerd")  # it pulls the base from the registry
        print(f"work dir {base_dir} (registry storage there too)", flush=True)
        for w in WORKLOADS:
            cache = f"{reg.host}/cache/{w}:1"
            seconds, hits = cairn_build(base_dir / f"{w}-A", ctxs[w], "--cache-to", f"type=registry,ref={cache},mode=max")
            print(f"  {w:<14} {'runner A export':<16} {seconds:6.2f} s  {hits}", flush=True)
            if dockerd is not None:
                bk = f"{reg.host}/bk/{w}:1"
                denv_bk = dict(denv, DOCKER_BUILDKIT="1")
                timed(["/usr/bin/docker", "build", "-q", "--build-arg", "BUILDKIT_INLINE_CACHE=1", "-t", bk,
                       str(ctxs[w])], denv_bk)
                timed(["/usr/bin/docker", "push", "-q", bk], denv)
        for rnd in range(args.rounds):
            print(f"round {rnd + 1}", flush=True)
            for w in WORKLOADS:
                cache = f"{reg.host}/cache/{w}:1"
                fresh = base_dir / f"{w}-cold{rnd}"
                note(w, "cold", *cairn_build(fresh, ctxs[w]))
                note(w, "local no-op", *cairn_build(base_dir / f"{w}-A", ctxs[w]))
                fresh = base_dir / f"{w}-remote{rnd}"
                note(w, "remote cached", *cairn_build(fresh, ctxs[w], "--cache-from", cache))
                fresh = base_dir / f"{w}-push{rnd}"
                note(w, "remote + push", *cairn_build(fresh, ctxs[w], "--cache-from", cache, "--push",
                                                      "-t", f"{reg.host}/out/{w}:{rnd}"))
                for d in (f"{w}-cold{rnd}", f"{w}-remote{rnd}", f"{w}-push{rnd}"):
                    shutil.rmtree(base_dir / d, ignore_errors=True)
                if dockerd is not None:
                    bk = f"{reg.host}/bk/{w}:1"
                    timed(["/usr/bin/docker", "builder", "prune", "-af"], denv)
                    subprocess.run(["/usr/bin/docker", "rmi", "-f", bk], env=denv, capture_output=True)
                    seconds, _ = timed(["/usr/bin/docker", "build", "-q", "--cache-from", bk, str(ctxs[w])],
                                       dict(denv, DOCKER_BUILDKIT="1"))
                    note(w, "BuildKit remote", seconds)
        print(f"\nmedians over {args.rounds} rounds:")
        for (w, what), values in times.items():
            print(f"  {w:<14} {what:<16} {statistics.median(values):6.2f} s  {notes[(w, what)]}")
        print("ratios (goal: remote cached <= 1.5x local no-op):")
        for w in WORKLOADS:
            med = {what: statistics.median(v) for (ww, what), v in times.items() if ww == w}
            line = f"  {w:<14} remote/no-op {med['remote cached'] / med['local no-op']:.2f}  " \
                   f"remote+push/no-op {med['remote + push'] / med['local no-op']:.2f}  " \
                   f"remote/cold {med['remote cached'] / med['cold']:.2f}"
            if "BuildKit remote" in med:
                line += f"  remote/BuildKit {med['remote cached'] / med['BuildKit remote']:.2f}"
            print(line)
    finally:
        if dockerd is not None:
            stop_dockerd(dockerd, base_dir / "dockerd")
        reg.close()
        shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
