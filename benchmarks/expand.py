"""Word expansion must stay linear: its time per byte against a floor, at growing sizes.

For each shape of word (one long unquoted word, a run of `$A` references, a double-quoted
string, words split on spaces) and each size, times `grammar.expand_word` and, as the floor,
a plain `str.replace` pass over the same text, interleaved because this machine is shared
and noisy. Prints the ratio expand/floor per size and the growth of that ratio from the
smallest size to the largest: linear expansion keeps it near 1, a quadratic one multiplies
it by the size factor (16 here).

    python benchmarks/expand.py [--rounds N] [--sizes 100000,400000,1600000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grammar import expand_word  # noqa: E402

ENV = {"A": "value"}
SHAPES = {
    "unquoted word": lambda n: "x" * n,
    "$A references": lambda n: "$A" * (n // 2),
    "double-quoted": lambda n: '"' + "x y " * (n // 4) + '"',
    "split words": lambda n: "ab " * (n // 3),
}


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ratio(text: str, rounds: int) -> float:
    """Median of expand time / floor time, the two measured back to back each round."""
    ratios = []
    for _ in range(rounds):
        floor = min(_seconds(lambda: text.replace("x", "y").replace("$", "%")) for _ in range(5))
        expand = _seconds(lambda: expand_word(text, ENV))
        ratios.append(expand / max(floor, 1e-9))
    return statistics.median(ratios)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="100000,400000,1600000")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'shape':16} " + " ".join(f"{n:>12,}" for n in sizes) + "   growth")
    worst = 0.0
    for name, make in SHAPES.items():
        ratios = [ratio(make(n), args.rounds) for n in sizes]
        growth = ratios[-1] / ratios[0]
        worst = max(worst, growth)
        print(f"{name:16} " + " ".join(f"{r:12.0f}" for r in ratios) + f"   x{growth:.2f}")
    factor = sizes[-1] / sizes[0]
    print(f"worst growth of the ratio over a x{factor:.0f} size: x{worst:.2f} (linear: about 1; quadratic: about {factor:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
