"""The corpus's cold builds (tests/corpus/apps) with cairn and with BuildKit, in one run.

Both builders get the same base images (cairn's stand-ins, `cairn save` | `docker load`),
and both start every app with an empty build cache (`cairn cache prune --all`, `docker
builder prune -af`). App by app, alternating which builder goes first, each builds the app
cold (timed), unchanged and after the app's one-line edit; the hits of the three builds are
compared with apps.toml's and with each other's. Prints a table and the total cold-build
time ratio cairn/BuildKit (goal: at most 0.8); with --rounds 2 the second round runs every app
again with the other builder first, and each app's cold time is the mean. Apps that need the package registries are
left out when they cannot be reached; an app that fails with either builder is reported and
left out of the totals.

cairn runs from this checkout, byte-compiled first (`compileall`), as `pip install .` leaves an
installed cairn: with PYTHONDONTWRITEBYTECODE set (as on the test machines) every start would
otherwise recompile the sources, ~0.2 s a build that no installed cairn pays. Each base's
layers are unpacked before the timed builds (a `cairn run` of it), as `docker load` unpacks
them for BuildKit: else the first app on a base paid for it (py-venv: 10.8 s against 7.6 s).

    python benchmarks/corpus.py [--apps a,b] [--rounds 2] [--json out.json] [--dir DIR]   (root, docker.io)
"""

from __future__ import annotations

import argparse
import compileall
import json
import shutil
import sys
import tempfile
from pathlib import Path

from _dockerd import start_dockerd, stop_dockerd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.corpus.corpus import (  # noqa: E402
    BuildKit,
    Cairn,
    apply_edit,
    buildkit_pattern,
    cairn_pattern,
    copy_context,
    load_apps,
    registries_unreachable,
)


def sequence(name: str, engine, app, work: Path) -> dict:
    """Cold (timed), unchanged and edited builds of one app with one builder."""
    ctx = copy_context(app, work / f"{name}-{app.name}")
    stages = app.stages()
    row = {"seconds": None, "patterns": None, "error": None}
    try:
        if name == "cairn":
            engine("cache", "prune", "--all")
            builds = [lambda step: engine.build(app, ctx, work / f"{app.name}-{step}.json"),
                      lambda meta: cairn_pattern(meta, stages)]
        else:
            engine.prune()
            builds = [lambda step: engine.build(app, ctx), lambda log: buildkit_pattern(log, stages)]
        build, pattern_of = builds
        patterns = []
        for step in ("cold", "warm", "edited"):
            if step == "edited":
                apply_edit(ctx, app.edit)
            seconds, out = build(step)
            if step == "cold":
                row["seconds"] = seconds
            patterns.append(pattern_of(out))
        row["patterns"] = patterns
    except AssertionError as err:
        row["error"] = str(err).strip().splitlines()[-1][:200]
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", help="comma-separated app names (default: all)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds over the apps, the order flipped each round")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--dir", help="work directory (default: a temporary one, removed)")
    opts = ap.parse_args()
    apps = load_apps()
    if opts.apps:
        wanted = opts.apps.split(",")
        apps = [a for a in apps if a.name in wanted]
    offline = registries_unreachable()
    if offline:
        print(f"leaving out the apps that need the package registries: {offline}", file=sys.stderr)
        apps = [a for a in apps if not a.registries]
    work = Path(opts.dir or tempfile.mkdtemp(prefix="cairn-corpus-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    for package in ("builder", "grammar", "runtime"):
        compileall.compile_dir(REPO / package, quiet=1)
    cairn = Cairn(work / "store")
    refs = sorted({ref for app in apps for ref in app.bases()})
    print(f"importing {', '.join(refs)}", file=sys.stderr, flush=True)
    cairn.import_bases(refs)
    for ref in refs:  # unpack each base's layers untimed, as `docker load` does for BuildKit's
        cairn("run", "--rm", ref, "true")
    dproc, denv = start_dockerd(work / "dockerd")
    if dproc is None:
        print("no Docker engine (Debian's docker.io): nothing to compare with", file=sys.stderr)
        return 1
    rows = []
    try:
        buildkit = BuildKit(denv)
        buildkit.load_bases(cairn, refs, work)
        for round_ in range(opts.rounds):
            for i, app in enumerate(apps):
                order = ["cairn", "buildkit"] if (i + round_) % 2 == 0 else ["buildkit", "cairn"]
                result = {"app": app.name, "round": round_ + 1, "expected": app.hits, "first": order[0]}
                for name in order:
                    result[name] = sequence(name, cairn if name == "cairn" else buildkit, app, work)
                rows.append(result)
                print(_line(result), flush=True)
    finally:
        stop_dockerd(dproc, work / "dockerd")
        if not opts.dir:
            shutil.rmtree(work, ignore_errors=True)
    ok = [r for r in rows if r["cairn"]["seconds"] is not None and r["buildkit"]["seconds"] is not None
          and not r["cairn"]["error"] and not r["buildkit"]["error"]]
    c = sum(r["cairn"]["seconds"] for r in ok)
    b = sum(r["buildkit"]["seconds"] for r in ok)
    same = sum(1 for r in ok if r["cairn"]["patterns"] == r["buildkit"]["patterns"])
    rounds = opts.rounds
    print(f"\n{len(ok)} of {len(rows)} app builds made by both ({rounds} round(s)); cold builds: cairn {c / rounds:.1f} s, "
          f"BuildKit {b / rounds:.1f} s a round, ratio cairn/BuildKit {c / b:.2f} (goal <= 0.8); "
          f"same hits as BuildKit in {same} of {len(ok)}")
    for r in rows:
        for name in ("cairn", "buildkit"):
            if r[name]["error"]:
                print(f"  {r['app']}: {name} failed: {r[name]['error']}")
    if opts.json:
        Path(opts.json).write_text(json.dumps({"rows": rows, "cairn_s": c, "buildkit_s": b,
                                               "ratio": c / b if b else None}, indent=2))
    return 0


def _line(r: dict) -> str:
    def cell(x):
        if x["error"]:
            return "FAILED".ljust(8)
        return f"{x['seconds']:6.1f}s "

    def hits(x):
        return "/".join(x["patterns"]) if x["patterns"] else "-"

    same = "same" if r["cairn"]["patterns"] == r["buildkit"]["patterns"] else "DIFFER"
    return (f"{r['round']} {r['app']:<14} cairn {cell(r['cairn'])} buildkit {cell(r['buildkit'])} {same:<6} "
            f"expected {r['expected']:<16} cairn {hits(r['cairn'])}  buildkit {hits(r['buildkit'])}")


if __name__ == "__main__":
    sys.exit(main())
