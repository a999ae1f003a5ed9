"""RUN --mount=type=bind of the build context while the context's owner swaps a directory on the
source's path for a link to a host directory (cairn run as root by a CI runner on a checkout
another user can write): the kernel must never follow that link when the step's container
mounts the source. The swap is made at the exact moment by a hook in the `cairn build` process
(tests/security/swap_hook.py): just before the step's container starts (after the mounts were
resolved), or between the source's check and its open. The step must see the context's file
or fail with a clear error, never the host's marker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import REPO, cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

HOST = "HOST-SECRET-MARKER"
CONTEXT = "context-file"

# (case, the context's files, --mount source, what the RUN reads, entry swapped, host dir's files, when)
CASES = [
    ("a bound directory swapped itself", {"sub/marker": CONTEXT}, "sub", "/m/marker", "sub",
     {"marker": HOST}, "start"),
    ("a bound directory's parent swapped", {"p/sub/marker": CONTEXT}, "p/sub", "/m/marker", "p",
     {"sub/marker": HOST}, "start"),
    ("a bound file's directory swapped", {"sub/marker": CONTEXT}, "sub/marker", "/m", "sub",
     {"marker": HOST}, "start"),
    ("a bound directory with .dockerignore's whiteouts, rw", {"sub/marker": CONTEXT, "sub/x.log": "",
     ".dockerignore": "*.log\n"}, "sub,rw", "/m/marker", "sub", {"marker": HOST}, "start"),
    ("a bound directory swapped between its check and its open", {"sub/marker": CONTEXT}, "sub", "/m/marker",
     "sub", {"marker": HOST}, "resolve"),
    ("the context's own directory swapped between the source's check and its pin", {"sub/marker": CONTEXT}, "sub",
     "/m/marker", "", {"sub/marker": HOST}, "resolve"),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "bindswapstore")


def _write(base: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text + "\n" if text else "")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_bind_source_swapped_for_a_host_link_never_shows_the_host(root, tmp_path, case):
    _, files, source, reads, swapped, host_files, when = case
    ctx, host = tmp_path / "ctx", tmp_path / "host"
    _write(ctx, files)
    _write(host, host_files)
    (ctx / "Dockerfile").write_text(f"FROM busybox:local\nRUN --mount=type=bind,source={source},target=/m cat {reads}\n")
    env = dict(os.environ, CAIRN_ROOT=str(root), SWAP=f"{ctx / swapped}=>{host}", SWAP_AT=when)
    res = subprocess.run([sys.executable, "-m", "tests.security.swap_hook", "build", "--no-cache",
                          "--progress", "plain", str(ctx)], cwd=REPO, env=env, capture_output=True, timeout=120, check=False)
    out = (res.stdout + res.stderr).decode(errors="replace")
    assert os.path.islink(ctx / swapped)  # (the swap was made)
    assert HOST not in out
    assert "Traceback" not in out
    assert res.returncode == 1 and "the build context changed while it was read" in out, out


def test_a_stage_bind_never_follows_a_link_a_lower_layer_holds_on_the_way(root, tmp_path):
    """from=STAGE: `a` a link to a host directory in one layer, a real directory `a/sub` above it
    (the link removed): the mount of a/sub is that directory (overlay: a directory over a
    non-directory hides it), never the host's a/sub through the lower layer's link."""
    host, ctx = tmp_path / "host", tmp_path / "ctx"
    _write(host, {"sub/marker": HOST})
    _write(ctx, {"Dockerfile": f"FROM busybox:local AS s\nRUN ln -s {host} /a\n"
                 "RUN rm /a && mkdir -p /a/sub && echo own > /a/sub/own\n"
                 "FROM busybox:local\n"
                 "RUN --mount=type=bind,from=s,source=a/sub,target=/m ls /m; cat /m/own /m/marker; true\n"})
    res = cairn_cli("build", "--progress", "plain", str(ctx), root=root)
    out = (res.stdout + res.stderr).decode(errors="replace")
    assert res.returncode == 0 and "own" in out, out
    assert HOST not in out and "marker" not in out.replace("/m/marker", "")


# (case, the context's files besides the Dockerfile, the Dockerfile after FROM; {host} is the host dir)
SEPARATOR_CASES = [
    ("a stage's directory 'a:HOST' (a lower added)",
     {}, "FROM busybox:local AS s\nRUN mkdir -p '/a:{host}' /a && ln -s '/a:{host}' /data\n"
         "FROM busybox:local\nRUN --mount=type=bind,from=s,source=/data,target=/m cat /m/marker\n"),
    ("a stage's directory 'x,upperdir=HOST,...' on a read-only mount (a writable host upper)",
     {}, "FROM busybox:local AS s\nRUN mkdir -p '/x,upperdir={host}/up,workdir={host}/work' /x"
         " && ln -s '/x,upperdir={host}/up,workdir={host}/work' /data\n"
         "FROM busybox:local\nRUN --mount=type=bind,from=s,source=/data,target=/m touch /m/pwned; cat /m/marker\n"),
    ("the context's directory 'a:HOST'",
     {"a/.keep": "", "a:{host}/.keep": ""}, "FROM busybox:local\n"
     "RUN --mount=type=bind,source=a:{host},target=/m cat /m/marker\n"),
]


@pytest.mark.parametrize("case", SEPARATOR_CASES, ids=[c[0] for c in SEPARATOR_CASES])
def test_a_bind_source_whose_path_holds_an_option_separator_never_adds_a_host_directory(root, tmp_path, case):
    """overlayfs's options are one string split on ',' and ':': a source directory named
    `a:/host/dir` (or `x,upperdir=/host/dir,...`), in a stage or in the context, made the
    host directory a lower (or the writable upper) of the step's mount: the build is refused
    with a clear error, the host directory neither read nor written."""
    _, files, dockerfile = case
    host, ctx = tmp_path / "host", tmp_path / "ctx"
    _write(host, {"marker": HOST, "up/.keep": "", "work/.keep": ""})
    _write(ctx, {name.format(host=host): text for name, text in files.items()})
    _write(ctx, {"Dockerfile": dockerfile.format(host=host)})
    res = cairn_cli("build", "--no-cache", "--progress", "plain", str(ctx), root=root)
    out = (res.stdout + res.stderr).decode(errors="replace")
    assert HOST not in out and "Traceback" not in out, out
    assert not (host / "up" / "pwned").exists() and sorted(os.listdir(host / "up")) == [".keep"]
    assert res.returncode == 1 and "an overlay mount's options cannot carry" in out, out
