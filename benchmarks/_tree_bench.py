"""What the benchmarks over the generated big tree share: their command line (--runs, --files,
--mb, --dir, and --before where a second checkout is measured), the root check, the work
directory and the busybox root filesystem they import."""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tree_args(doc: str, runs: int, before: bool = False) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--runs", type=int, default=runs)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--mb", type=int, default=500)
    if before:
        ap.add_argument("--before", default=None, help="another cairn checkout to measure beside this one")
    ap.add_argument("--dir", default=None, help="where the workloads go (default: the temp dir)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    return args


def work_dir(name: str, where: str | None) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"cairn-bench-{name}-", dir=where))


def busybox_rootfs(work: Path) -> Path:
    rootfs = work / "busybox.tar"
    subprocess.run([str(REPO / "examples" / "busybox-rootfs.sh"), str(rootfs)], check=True)
    return rootfs
