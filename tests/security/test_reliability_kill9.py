"""kill -9 at random moments: a build during RUN, COPY, a layer's commit, a cache export and
a push to the real registry, and a `cairn run`. After each kill the store still checks, the
next build (or run) passes, and once it (or `cairn ps`) has run, no mount, cgroup, network
namespace or link of the killed process is left on the host.

The kill moments come from one seed, printed with every failure: CAIRN_KILL_SEED=<seed>
reproduces a run. Each kill waits for its phase to begin (a progress line) and then a
random delay inside that phase's window.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .. import registry_server
from ..conftest import REPO, TEST_BRIDGE, cairn_cli, imported_store
from ..host_state import snapshot
from ..registry_server import Registry

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="builds and containers need root"),
    pytest.mark.skipif(not registry_server.available(), reason="docker-registry is not installed"),
]

SEED = int(os.environ.get("CAIRN_KILL_SEED", "1130"))
KILLS_PER_SCENARIO = 4  # six scenarios: 24 kill points


@dataclass(frozen=True)
class Scenario:
    name: str
    dockerfile: str  # empty: a `cairn run`, not a build
    trigger: str  # the kill delay starts when a progress line matches this
    window: float  # seconds after the trigger within which the kill lands
    extra: tuple = ()  # more build arguments ({reg} and {cache} are filled in)


SCENARIOS = (
    Scenario("run", "FROM busybox:local\nARG N\nRUN echo run-start-$N && mkdir /w && cd /w && "
             "for i in $(seq 400); do echo $i > f$i; done && sleep 0.3 && echo run-end\n",
             r"run-start-", 0.5),
    Scenario("copy", "FROM busybox:local\nARG N\nCOPY stamp /stamp\nCOPY big /big\n", r"COPY big /big", 0.5),
    Scenario("commit", "FROM busybox:local\nARG N\nRUN echo $N > /n && mkdir /m && cd /m && "
             "seq 3000 | xargs touch && dd if=/dev/zero of=/z bs=1M count=48 2>/dev/null && echo made\n",
             r"^#\d+ made$", 0.4),
    Scenario("export", "FROM busybox:local\nARG N\nRUN echo $N > /n && dd if=/dev/urandom of=/r bs=1M count=24 "
             "2>/dev/null\n", r"^#3 DONE", 0.3, ("--cache-to", "type=local,dest={cache},mode=max")),
    Scenario("push", "FROM busybox:local\nARG N\nRUN echo $N > /n && dd if=/dev/urandom of=/r bs=1M count=24 "
             "2>/dev/null\n", r"^#3 DONE", 0.45, ("--push", "-t", "{reg}/kill/app:{n}")),
    Scenario("cairn run", "", "", 1.2),
)


@dataclass
class Killed:
    lines: list[str]
    finished: bool  # it ended on its own before the kill


def _start(root, args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, CAIRN_ROOT=str(root))
    return subprocess.Popen([sys.executable, "-m", "builder.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_during(root, args: list[str], trigger: str, delay: float) -> Killed:
    """Start cairn, wait for a stderr line matching trigger (at once if empty), wait delay, kill -9."""
    proc = _start(root, args)
    lines: list[str] = []
    seen = threading.Event()
    pattern = re.compile(trigger, re.M) if trigger else None

    def read() -> None:
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            if pattern is not None and pattern.search(line):
                seen.set()
        seen.set()  # EOF: it ended (or failed) before the trigger

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if pattern is not None:
        seen.wait(120)
    time.sleep(delay)
    finished = proc.poll() is not None
    proc.kill()
    proc.wait()
    reader.join(30)
    return Killed(lines, finished)


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "kill9")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with Registry(tmp_path_factory.mktemp("kill9-reg"), "plain") as r:
        yield r


def _contexts(base: Path) -> dict[str, Path]:
    out = {}
    rng = random.Random(SEED)
    for sc in SCENARIOS:
        if not sc.dockerfile:
            continue
        ctx = base / sc.name
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(sc.dockerfile)
        out[sc.name] = ctx
    big = out["copy"] / "big"
    big.mkdir()
    for i in range(1500):
        (big / f"f{i:04d}").write_bytes(rng.randbytes(24_000))
    return out


def _ok(res, what: str, where: str) -> None:
    assert res.returncode == 0, f"{where}: {what} failed:\n{res.stderr.decode()[-3000:]}{res.stdout.decode()[-2000:]}"


def _remove_new_cgroups(before) -> None:
    """On a failure, the cgroups the killed processes left (deepest first; they are empty)."""
    for path in sorted(snapshot().new_since(before)["cgroups"], key=len, reverse=True):
        try:
            os.rmdir(path)
        except OSError:
            pass


def _leaks(before, where: str) -> None:
    left = snapshot().new_since(before)
    left["links"] = [name for name in left["links"] if name != TEST_BRIDGE]
    assert not any(left.values()), f"{where}: left on the host: {left}"


def test_kill_9_at_random_points_leaves_a_sound_store_and_nothing_behind(root, registry, tmp_path):
    print(f"kill -9 loop: seed {SEED} (CAIRN_KILL_SEED={SEED} reproduces it)")
    rng = random.Random(SEED)
    contexts = _contexts(tmp_path)
    cache = tmp_path / "cache-export"
    _ok(cairn_cli("run", "--rm", "busybox:local", "true", root=root), "the first run", "setup")  # makes the bridge
    before = snapshot()
    plan = [sc for sc in SCENARIOS for _ in range(KILLS_PER_SCENARIO)]
    rng.shuffle(plan)
    try:
        _kill_loop(root, registry, contexts, cache, plan, rng, before)
    finally:
        _remove_new_cgroups(before)


def _kill_loop(root, registry, contexts, cache, plan, rng, before) -> None:
    for n, sc in enumerate(plan, 1):
        delay = round(rng.uniform(0, sc.window), 3)
        where = f"seed {SEED}, kill {n}/{len(plan)} during {sc.name} ({delay}s after {sc.trigger or 'the start'!r})"
        if sc.dockerfile:
            ctx = contexts[sc.name]
            (ctx / "stamp").write_text(f"{n}\n")
            extra = [a.format(reg=registry.host, cache=cache, n=n) for a in sc.extra]
            args = ["build", "--progress", "plain", "--build-arg", f"N={SEED}-{n}", *extra, str(ctx)]
        else:
            args = ["run", "--rm", "busybox:local", "sh", "-c", "echo up; sleep 2"]
        killed = kill_during(root, args, sc.trigger, delay)
        last = killed.lines[-1] if killed.lines else ""
        print(f"{where}: {'it had ended' if killed.finished else 'killed'} after {last!r}")
        if not sc.dockerfile:
            _ok(cairn_cli("ps", "-a", root=root), "cairn ps", where)
        _ok(cairn_cli("store", "check", root=root), "store check", where)
        if sc.dockerfile:
            _ok(cairn_cli(*args, root=root), "the next build", where)
        else:
            _ok(cairn_cli("run", "--rm", "busybox:local", "true", root=root), "the next run", where)
            left = sorted(p.name[:12] for p in (Path(root) / "containers").iterdir())
            assert left == [], f"{where}: --rm containers still in the store after ps: {left}"
        _leaks(before, where)
        if sc.dockerfile:  # the next build removed the killed one's temp files
            left = os.listdir(Path(root) / "tmp")
            assert left == [], f"{where}: temp files left in the store: {left}"
