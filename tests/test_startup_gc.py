"""builder.startup_gc: `cairn` starts without cyclic collections (8-11 ms of `cairn run`'s
start here), and every command's own work is collected as before: a long `serve`, a
foreground `run` or a build must not pile up garbage cycles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import imported_store

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import atexit, gc, sys
import builder.store.store as store
seen = []
collections = []
gc.callbacks.append(lambda phase, info: phase == "stop" and collections.append(1))
opened = store.Store.__init__
def spy(self, *args, **kwargs):
    seen.append((gc.isenabled(), gc.get_freeze_count() > 0))
    return opened(self, *args, **kwargs)
store.Store.__init__ = spy
import builder.startup_gc as startup_gc
resumed = startup_gc.resume
def on_resume():
    seen.append(len(collections))
    resumed()
startup_gc.resume = on_resume
import runtime.process as process
waited = process.wait
def wait(pid):
    seen.append(("wait", gc.isenabled()))
    return waited(pid)
process.wait = wait
atexit.register(lambda: print(seen, flush=True))
sys.argv = ["cairn", "--root", sys.argv[1], *sys.argv[2:]]
from builder.cli import main
collections.clear()
main()
"""


def _probe(root, *args: str) -> list:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CAIRN_HOST", None)
    out = subprocess.run([sys.executable, "-c", PROBE, str(root), *args], check=False, env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout.strip().splitlines()[-1])


def test_a_command_runs_with_the_collector_on_after_a_start_without_collections(tmp_path):
    collected_at_resume, (enabled, frozen) = _probe(tmp_path / "store", "ps", "-a")
    assert collected_at_resume == 0  # nothing collected from main() to the command's start
    assert enabled and frozen  # `ps` opened the store with the collector on, the start's objects frozen


@pytest.fixture(scope="module")
def busybox_root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "startup-gc")


@pytest.mark.skipif(os.geteuid() != 0, reason="runs a container as root")
def test_run_waits_for_its_container_with_the_collector_on(busybox_root):
    seen = _probe(busybox_root, "run", "--rm", "--network", "none", "busybox:local", "true")
    resumed = [i for i, item in enumerate(seen) if isinstance(item, int)]
    assert [seen[i] for i in resumed] == [0]  # once, with no collection before its container started
    assert seen[resumed[0] + 1:] == [("wait", True)]  # it waits, and would relay, with the collector on


def test_a_caller_of_the_group_keeps_its_collector():
    import gc

    from builder import startup_gc

    frozen = gc.get_freeze_count()
    startup_gc.resume()  # (no pause: a test process, a library caller)
    assert gc.isenabled() and gc.get_freeze_count() == frozen
