"""Registry speed: push, unchanged re-push and pull of a ~500 MB, 5-layer image, against
`skopeo copy` and `buildah push` of the same image in the same run (issue 7).

The image is built by cairn (FROM scratch, five COPY steps of ~100 MB each: half random
bytes, half repetitive, so compression has real work), so its layers are held
uncompressed, as after any build. Each round starts a fresh distribution registry
(`docker-registry serve`, storage on the work disk) and measures, interleaved:

  fresh push   cairn (zstd, compressing included; the compressed blobs are dropped from
               the store before each round), cairn again with the compressed blobs kept,
               `skopeo copy oci-archive:` (as it is: uncompressed layers),
               `buildah push` (gzip, from buildah's own storage)
  re-push      the same command again, nothing changed (cairn: also in-process, without
               the interpreter's start-up)
  pull         `cairn pull` into an empty store vs `skopeo copy docker:// oci:` of the same ref

Goals: fresh push at most half of buildah's; unchanged re-push under 0.1 s; pull no slower
than skopeo. Prints medians and ratios.

    python benchmarks/registry.py [--mb 500] [--rounds 2] [--dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.layers import generate  # noqa: E402
from tests.registry_server import Registry  # noqa: E402

CAIRN = [sys.executable, "-m", "builder.cli"]


def run(cmd, **kw) -> float:
    t0 = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, cwd=REPO, **kw)
    seconds = time.monotonic() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed: {res.stderr.decode()[-2000:]}")
    return seconds


def build_image(base: Path, root: Path, mb: int) -> None:
    ctx = base / "ctx"
    lines = ["FROM scratch"]
    for i in range(5):
        generate(ctx / f"layer{i}", files=400, total_mb=mb // 5, seed=i)
        lines.append(f"COPY layer{i} /layer{i}/")
    (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
    run([*CAIRN, "--root", str(root), "build", "-t", "bench/app:1", str(ctx)])
    run([*CAIRN, "--root", str(root), "save", "--format", "oci", "-o", str(base / "app.tar"), "bench/app:1"])


def forget_compressed(root: Path) -> None:
    """Drop the compressed blobs a push made, so the next push compresses again."""
    db = sqlite3.connect(root / "cairn.db")
    with db:
        rows = db.execute("SELECT blob FROM layer_blobs WHERE media_type != "
                          "'application/vnd.oci.image.layer.v1.tar'").fetchall()
        db.execute("DELETE FROM layer_blobs WHERE media_type != 'application/vnd.oci.image.layer.v1.tar'")
    db.close()
    forget_locations(root)
    for (blob,) in rows:
        (root / "blobs" / "sha256" / blob.split(":")[1]).unlink(missing_ok=True)


def forget_locations(root: Path) -> None:
    """Forget where blobs were seen, so that a push to a new repository uploads (no mounts)."""
    db = sqlite3.connect(root / "cairn.db")
    with db:
        db.execute("DELETE FROM blob_locations")
    db.close()


def in_process_repush(root: Path, ref: str) -> float:
    from builder.image.reference import parse_reference
    from builder.registry.push import push
    from builder.store import images
    from builder.store.store import Store

    with Store(root) as store:
        image = images.resolve(store, "bench/app:1")
        t0 = time.monotonic()
        push(store, image, parse_reference(ref))
        return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--dir", default=None, help="where the store, registry and workload live")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cairn-bench-registry-", dir=args.dir))
    root = base / "store"
    buildah = shutil.which("buildah")
    times: dict[str, list[float]] = {}

    def note(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)
        print(f"  {name:<34} {seconds:7.2f} s", flush=True)

    try:
        print(f"building the image ({args.mb} MB, 5 layers) in {base}", flush=True)
        build_image(base, root, args.mb)
        if buildah:
            pulled = subprocess.run([buildah, "pull", "-q", f"oci-archive:{base / 'app.tar'}"], capture_output=True)
            if pulled.returncode != 0:
                raise SystemExit(f"buildah pull failed: {pulled.stderr.decode()[-1000:]}")
            run([buildah, "tag", pulled.stdout.decode().split()[-1], "bench-app"])
        for rnd in range(args.rounds):
            print(f"round {rnd + 1}", flush=True)
            # One registry per tool: a registry shares blobs between repositories, and skopeo
            # and buildah would otherwise reuse (mount) what another tool uploaded.
            regs = {tool: Registry(base / f"reg{rnd}-{tool}", "plain") for tool in ("cairn", "skopeo", "buildah")}
            try:
                host = regs["cairn"].host
                forget_compressed(root)
                cairn_push = [*CAIRN, "--root", str(root), "push", "-q", "bench/app:1"]
                skopeo_push = ["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci-archive:{base / 'app.tar'}",
                               f"docker://{regs['skopeo'].host}/skopeo/app:1"]
                buildah_push = [buildah, "push", "-q", "--tls-verify=false", "bench-app",
                                f"docker://{regs['buildah'].host}/buildah/app:1"]
                note("cairn push (compressing)", run([*cairn_push, f"{host}/cairn/app:1"]))
                note("skopeo copy", run(skopeo_push))
                if buildah:
                    note("buildah push", run(buildah_push))
                forget_locations(root)
                note("cairn push (blobs compressed)", run([*cairn_push, f"{host}/cairn2/app:1"]))
                note("cairn re-push", run([*cairn_push, f"{host}/cairn/app:1"]))
                note("cairn re-push, in-process", in_process_repush(root, f"{host}/cairn/app:1"))
                note("skopeo re-copy", run(skopeo_push))
                if buildah:
                    note("buildah re-push", run(buildah_push))
                empty = base / f"pull{rnd}"
                note("cairn pull", run([*CAIRN, "--root", str(empty), "pull", "-q", f"{host}/cairn/app:1"]))
                note("skopeo pull (copy to oci:)", run(["skopeo", "copy", "-q", "--src-tls-verify=false",
                                                        f"docker://{host}/cairn/app:1", f"oci:{empty}-skopeo:x"]))
                shutil.rmtree(empty, ignore_errors=True)
                shutil.rmtree(f"{empty}-skopeo", ignore_errors=True)
            finally:
                for tool, reg in regs.items():
                    reg.close()
                    shutil.rmtree(base / f"reg{rnd}-{tool}", ignore_errors=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"\nmedians over {args.rounds} rounds (work dir {base}):")
        for k, v in med.items():
            print(f"  {k:<34} {v:7.2f} s")

        def ratio(a: str, b: str, goal: str) -> None:
            if a in med and b in med:
                print(f"  {a} / {b}: {med[a] / med[b]:.2f}  (goal {goal})")

        print("ratios:")
        ratio("cairn push (compressing)", "buildah push", "<= 0.5")
        ratio("cairn push (blobs compressed)", "buildah push", "<= 0.5")
        ratio("cairn push (compressing)", "skopeo copy", "-")
        print(f"  cairn re-push: {med['cairn re-push']:.3f} s wall, {med['cairn re-push, in-process']:.3f} s "
              "in-process (goal < 0.1 s)")
        ratio("cairn pull", "skopeo pull (copy to oci:)", "<= 1.0")
    finally:
        if buildah:
            subprocess.run([buildah, "rmi", "-f", "bench-app"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
