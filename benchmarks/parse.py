"""Parse speed: cairn's front end against the `dockerfile-parse` library, same inputs, same run.

Prints, for the BuildKit conformance corpus and a generated 5,000-line Dockerfile, the
median time of each parser and the ratio cairn/dockerfile-parse (goal: <= 1.0), then the
wall time of `cairn parse` on a small file, start-up included (goal: well under 150 ms),
against the floor of `python -c pass` measured alongside. Runs are interleaved because
this machine is shared and noisy.

    python benchmarks/parse.py [--rounds N]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grammar import parse  # noqa: E402

CONFORMANCE = Path(os.environ.get("CAIRN_CONFORMANCE", REPO.parent / "shared" / "conformance"))


def generated_dockerfile(lines: int = 5000) -> str:
    """A large, varied Dockerfile: continuations, flags, JSON and shell forms, ENV/LABEL."""
    out = ["# syntax=docker/dockerfile:1", "ARG BASE=debian:12", "FROM ${BASE} AS build"]
    i = 0
    while len(out) < lines:
        i += 1
        kind = i % 8
        if kind == 0:
            out += [f"RUN apt-get update && apt-get install -y pkg{i} \\",
                    f"    other{i} more{i} \\", "    && rm -rf /var/lib/apt/lists/*"]
        elif kind == 1:
            out.append(f"COPY --chown=app:app --chmod=0644 src/file{i}.txt /app/file{i}.txt")
        elif kind == 2:
            out.append(f'ENV VAR{i}="value {i}" PATH=/opt/bin{i}:$PATH')
        elif kind == 3:
            out.append(f'CMD ["/usr/bin/app{i}", "--flag", "value {i}"]')
        elif kind == 4:
            out.append(f"RUN --mount=type=cache,target=/root/.cache/{i} pip install pkg{i}")
        elif kind == 5:
            out.append(f'LABEL org.example.k{i}="v{i}" other{i}=x')
        elif kind == 6:
            out.append(f"# a comment about step {i}")
        else:
            out.append(f"WORKDIR /srv/app{i}")
    return "\n".join(out[:lines]) + "\n"


def time_cairn(text: str) -> float:
    t0 = time.perf_counter()
    parse(text)
    return time.perf_counter() - t0


def time_dfp(text: str) -> float:
    from dockerfile_parse import DockerfileParser

    t0 = time.perf_counter()
    dfp = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    dfp.structure  # noqa: B018 - parsing happens on access
    return time.perf_counter() - t0


def compare(label: str, texts: list[str], rounds: int) -> None:
    ours, peer = [], []
    for _ in range(rounds):
        ours.append(sum(time_cairn(t) for t in texts))
        peer.append(sum(time_dfp(t) for t in texts))
    a, b = statistics.median(ours), statistics.median(peer)
    print(f"{label:<34} cairn {a * 1000:8.2f} ms   dockerfile-parse {b * 1000:8.2f} ms"
          f"   ratio {a / b:5.2f}x")


def wall(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def startup(rounds: int) -> None:
    cairn = shutil.which("cairn") or str(Path(sys.executable).with_name("cairn"))
    with tempfile.TemporaryDirectory() as tmp:
        df = Path(tmp) / "Dockerfile"
        df.write_text("FROM busybox\nRUN echo hi\nCOPY . /app\nCMD [\"/app/run\"]\n")
        wall([cairn, "parse", str(df)], REPO)  # warm the grammar cache and the page cache
        ours, floor, imports = [], [], []
        for _ in range(rounds):
            ours.append(wall([cairn, "parse", str(df)], REPO))
            floor.append(wall([sys.executable, "-c", "pass"], REPO))
            imports.append(wall([sys.executable, "-c", "import click, lark"], REPO))
    a, b, c = (statistics.median(x) for x in (ours, floor, imports))
    print(f"{'cairn parse (small file, wall)':<34} cairn {a * 1000:8.1f} ms   (min {min(ours) * 1000:.1f};"
          f" goal < 150 ms)")
    print(f"{'  floor: python -c pass':<34} {b * 1000:14.1f} ms   ratio {a / b:5.2f}x")
    print(f"{'  floor: import click, lark':<34} {c * 1000:14.1f} ms   ratio {a / c:5.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    corpus = [p.read_text(encoding="utf-8")
              for p in sorted((CONFORMANCE / "buildkit-parser" / "testfiles").glob("*/Dockerfile"))]
    big = generated_dockerfile()
    for text in corpus + [big]:  # warm up both (grammar load, regex compile)
        time_cairn(text)
        time_dfp(text)
    print(f"machine: {os.cpu_count()} cpus; python {sys.version.split()[0]}; rounds {args.rounds}")
    compare(f"conformance corpus ({len(corpus)} files)", corpus, args.rounds)
    compare("generated 5,000-line Dockerfile", [big], max(3, args.rounds // 3))
    startup(args.rounds)


if __name__ == "__main__":
    main()
