"""Shared test fixtures: where the conformance data and golden files live, --update-golden."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=400)
settings.register_profile("deep", max_examples=20000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]

# Containers started by tests use their own bridge and subnet, never the default cairn0;
# modules that run containers remove it when they end (see remove_test_bridge).
TEST_BRIDGE, TEST_SUBNET = "cairnt0", "10.89.0.0/24"
os.environ["CAIRN_BRIDGE"] = TEST_BRIDGE
os.environ["CAIRN_SUBNET"] = TEST_SUBNET


def remove_test_bridge() -> None:
    """The tests' bridge, and the cgroup pool's spare directories their runs made."""
    from runtime.cgroups import Cgroup
    from runtime.network import Bridge, remove_bridge

    remove_bridge(Bridge(TEST_BRIDGE, TEST_SUBNET))
    Cgroup.drain_pool()
GOLDEN = REPO / "tests" / "golden"
CONFORMANCE = Path(os.environ.get("CAIRN_CONFORMANCE", REPO.parent / "shared" / "conformance"))


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files from the current output (review the diff)")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


def case_dirs_with(root: Path, marker: str) -> list[Path]:
    """Every folder under root that holds `marker` (a relative path), sorted; fails loudly if none."""
    found = sorted(p.parent for p in root.glob(f"*/{marker}"))
    found = sorted({root / p.relative_to(root).parts[0] for p in found})
    assert found, f"no test cases under {root}"
    return found


def case_dirs(root: Path) -> list[Path]:
    """Every folder under root that holds a Dockerfile, sorted; fails loudly if none."""
    found = sorted(p.parent for p in root.glob("*/Dockerfile"))
    assert found, f"no test cases under {root}"
    return found


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory) -> Path:
    """A rootfs tarball made from Debian's busybox-static by examples/busybox-rootfs.sh."""
    import subprocess

    out = tmp_path_factory.mktemp("rootfs") / "busybox.tar"
    subprocess.run([str(REPO / "examples" / "busybox-rootfs.sh"), str(out)], check=True, timeout=120)
    return out


@pytest.fixture
def store(tmp_path):
    from builder.store.store import Store

    s = Store(tmp_path / "store")
    yield s
    s.close()


def cairn_cli(*args: str, root=None, stdin: bytes | None = None, env=None):
    """Run the cairn CLI in a subprocess, as a user would."""
    import subprocess
    import sys

    full_env = dict(os.environ)
    if root is not None:
        full_env["CAIRN_ROOT"] = str(root)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], cwd=REPO, input=stdin,
                          capture_output=True, timeout=300, env=full_env)


def imported_store(tmp_path_factory, busybox_tar, name: str, *changes: str):
    """A store root with busybox:local imported (`-c` changes applied); yields it, then
    removes the test bridge that containers may have created."""
    root = tmp_path_factory.mktemp(name)
    args = [a for change in changes for a in ("-c", change)]
    res = cairn_cli("import", *args, str(busybox_tar), "busybox:local", root=root)
    assert res.returncode == 0, res.stderr
    try:
        yield root
    finally:
        remove_test_bridge()


def remove_all_containers(root) -> None:
    """`cairn rm -f` every container of the store at root (a module fixture's clean-up)."""
    for cid in cairn_cli("ps", "-aq", root=root).stdout.decode().split():
        cairn_cli("rm", "-f", cid, root=root)


def pytest_configure(config):
    """Byte-compile cairn's packages once. The suite starts cairn as a subprocess thousands of
    times; with PYTHONDONTWRITEBYTECODE set (as on the CI machines) every start would compile
    each module it imports again (~0.25 s a start, minutes over the suite). An installed cairn
    has its bytecode (pip compiles it), so this is also what users run."""
    import compileall

    for package in ("builder", "grammar", "runtime"):
        compileall.compile_dir(str(REPO / package), quiet=1)
    _restore_interrupt()


def _restore_interrupt() -> None:
    """Ctrl-C and Ctrl-\\ as on a terminal for what the tests start. A suite started in the
    background by a shell without job control (`.ci/run &` in a script) inherits SIGINT and
    SIGQUIT ignored, and every process it starts would too: a `cairn logs -f` sent SIGINT by a
    test then never ends (a user's Ctrl-C reaches a process whose SIGINT is not ignored)."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGQUIT) == signal.SIG_IGN:
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)
