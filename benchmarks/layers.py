"""Layer speed: making a zstd layer blob from a directory, and unpacking it, against tar+zstd.

Workload: a generated tree of 20,000 files, about 500 MB (mixed sizes; half the bytes
random, half repetitive, so compression has real work). In the same run, interleaved:

  create:  cairn (deterministic tar -> sha256 diff_id -> zstd -3 multi-threaded -> sha256
           digest -> blob file)   vs   `tar -cf - DIR | zstd -3 -T0 -q -o OUT`
  unpack:  cairn (zstd -> tar -> safe extraction in overlay format, diff_id checked)
                                  vs   `zstd -dc OUT | tar -xf - -C DIR`

Prints medians and the ratio cairn/floor (goal: at most 1.3x for both). The disk here
slows down when many files are created right after many were deleted, so the runs
alternate and each unpack target is removed after both sides ran; pass --dir to place
the workload (e.g. on tmpfs) and say where the figure was measured.

    python benchmarks/layers.py [--files 20000] [--mb 500] [--rounds 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from builder.layers.compression import compressor, decompressed_by_kind  # noqa: E402
from builder.layers.extract import extract_tar  # noqa: E402
from builder.layers.hashing import HashingWriter  # noqa: E402
from builder.layers.pipeline import ThreadedWriter  # noqa: E402
from builder.layers.tarstream import TarOptions, write_tar  # noqa: E402


def generate(root: Path, files: int, total_mb: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    mean = total_mb * 1_000_000 // files
    pattern = (b"cairn layer benchmark " * 64)[:1024]
    for i in range(files):
        d = root / f"d{i % 97:02d}" / f"s{i % 13}"
        d.mkdir(parents=True, exist_ok=True)
        size = max(0, int(rng.expovariate(1 / mean)))
        half = size // 2
        data = os.urandom(half) + (pattern * (size // 1024 + 1))[: size - half]
        (d / f"f{i}.bin").write_bytes(data)


class _File:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 20)

    def write(self, data):
        return self.f.write(data)


def cairn_create(src: Path, out: Path) -> None:
    """What ensure_blob does for a snapshot, minus the store bookkeeping."""
    sink = HashingWriter(_File(out))
    comp = compressor("zstd", sink)
    diff = HashingWriter(comp)
    worker = ThreadedWriter(diff)
    write_tar(str(src), worker, TarOptions(None))
    worker.close()
    comp.close()
    sink._sink.f.close()
    _ = diff.digest, sink.digest


def floor_create(src: Path, out: Path) -> None:
    subprocess.run(f"tar -C '{src}' -cf - . | zstd -3 -T0 -q -f -o '{out}'", shell=True, check=True)


def cairn_unpack(blob: Path, dest: Path) -> None:
    dest.mkdir()
    with open(blob, "rb") as f:
        reader = decompressed_by_kind(f, "zstd")
        extract_tar(reader, str(dest))


def floor_unpack(blob: Path, dest: Path) -> None:
    dest.mkdir()
    subprocess.run(f"zstd -dc -q '{blob}' | tar -xf - -C '{dest}'", shell=True, check=True)


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where to put the workload (default: a temp dir)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cairn-bench-layers-", dir=args.dir))
    fs = subprocess.run(["df", "--output=fstype", str(work)], capture_output=True, text=True).stdout.split()[-1]
    try:
        src = work / "src"
        t = timed(generate, src, args.files, args.mb)
        size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
        print(f"workload: {args.files} files, {size / 1e6:.0f} MB in {work} ({fs}); generated in {t:.1f}s; "
              f"{os.cpu_count()} cpus")
        create = {"cairn": [], "floor": []}
        unpack = {"cairn": [], "floor": []}
        for r in range(args.rounds):
            order = [("cairn", cairn_create), ("floor", floor_create)]
            if r % 2:
                order.reverse()
            for name, fn in order:
                create[name].append(timed(fn, src, work / f"{name}.zst"))
            order = [("cairn", cairn_unpack), ("floor", floor_unpack)]
            if r % 2:
                order.reverse()
            for name, fn in order:
                unpack[name].append(timed(fn, work / "floor.zst", work / f"out-{name}"))
            for name in ("cairn", "floor"):
                shutil.rmtree(work / f"out-{name}")
        for label, res in (("create layer (tar+zstd)", create), ("unpack layer (zstd+untar)", unpack)):
            a, b = statistics.median(res["cairn"]), statistics.median(res["floor"])
            print(f"{label:<28} cairn {a:6.2f}s   floor {b:6.2f}s   ratio {a / b:5.2f}x   (goal <= 1.3x)"
                  f"   runs cairn={[round(x, 2) for x in res['cairn']]} floor={[round(x, 2) for x in res['floor']]}")
        print(f"blob sizes: cairn {(work / 'cairn.zst').stat().st_size / 1e6:.0f} MB, "
              f"floor {(work / 'floor.zst').stat().st_size / 1e6:.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
