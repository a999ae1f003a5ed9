"""`RUN --security=insecure` hands the host to the step (every capability, host devices, no
seccomp), so only the user may grant it (`cairn build --allow security.insecure`). A
Dockerfile tries to get it without the entitlement by every route it has: the flag itself,
an ARG that expands to it, an ONBUILD trigger of its base image; and a build that grants
it must keep every other step in the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ..conftest import REPO, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

# reads the host's hardware RNG (10:183) through a node it makes: only an insecure step can
_READ_HOST_DEVICE = "rm -f /x && mknod /x c 10 183 && head -c1 /x > /dev/null && echo READ-HOST-$((6*7))"  # prints READ-HOST-42


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "insecurestore")


def build(root, ctx, *args):
    env = dict(os.environ, CAIRN_ROOT=str(root))
    return subprocess.run([sys.executable, "-m", "builder.cli", "build", "--progress", "plain", "--no-cache", *args,
                           str(ctx)], cwd=REPO, env=env, capture_output=True, timeout=300, check=False)


def _context(tmp_path, name, dockerfile):
    ctx = tmp_path / name
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    return ctx


@pytest.mark.parametrize("dockerfile, line", [
    (f"FROM busybox:local\nRUN --security=insecure {_READ_HOST_DEVICE}\n", 2),
    (f"FROM busybox:local\nARG MODE=insecure\nRUN --security=$MODE {_READ_HOST_DEVICE}\n", 3),
])
def test_a_dockerfile_cannot_leave_the_sandbox_without_the_entitlement(root, tmp_path, dockerfile, line):
    res = build(root, _context(tmp_path, "c", dockerfile))
    assert res.returncode != 0
    assert f"Dockerfile:{line}:".encode() in res.stderr and b"security.insecure is not allowed" in res.stderr
    assert b"READ-HOST-42" not in res.stderr + res.stdout


def test_an_onbuild_trigger_cannot_leave_the_sandbox_either(root, tmp_path):
    base = _context(tmp_path, "base", f"FROM busybox:local\nONBUILD RUN --security=insecure {_READ_HOST_DEVICE}\n")
    assert build(root, base, "-t", "insecure/base:onbuild").returncode == 0
    res = build(root, _context(tmp_path, "child", "FROM insecure/base:onbuild\nRUN true\n"))
    assert res.returncode != 0 and b"security.insecure is not allowed" in res.stderr, res.stderr
    assert b"READ-HOST-42" not in res.stderr + res.stdout


def test_granting_it_leaves_the_other_steps_in_the_sandbox(root, tmp_path):
    ctx = _context(tmp_path, "c", (
        f"FROM busybox:local\nRUN {_READ_HOST_DEVICE}; true\n"
        "RUN [ \"$(grep CapBnd /proc/self/status)\" = \"CapBnd:\t00000000a80425fb\" ] && [ ! -e /dev/kmsg ]\n"
        f"RUN --security=sandbox {_READ_HOST_DEVICE}; true\n"
        f"RUN --security=insecure {_READ_HOST_DEVICE}\n"  # the one step that asked (and shows the probe works)
        f"RUN {_READ_HOST_DEVICE}; true\n"))
    res = build(root, ctx, "--allow", "security.insecure")
    assert res.returncode == 0, res.stderr
    assert (res.stderr + res.stdout).count(b"READ-HOST-42") == 1, res.stderr
