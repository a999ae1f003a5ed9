"""runtime.seccomp: the filter is built once and its program kept for later starts; what is
loaded from the keeping place must still be the filter, and a program anyone else could
have written there is never loaded."""

from __future__ import annotations

import errno
import os

import pytest

from runtime import seccomp
from runtime import syscalls as sc
from runtime.spec import Process

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the cache is root's")
CAPS = Process(args=("true",)).capabilities  # docker's default set: no CAP_SYS_ADMIN


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "seccomp"
    monkeypatch.setattr(seccomp, "CACHE_DIR", str(path))
    monkeypatch.setattr(seccomp, "_programs", {})
    return path


def errno_under(prog: bytes, call=lambda: sc.unshare(sc.CLONE_NEWUTS)) -> int:
    """In a fork: load prog, make the call (by default unshare(CLONE_NEWUTS), which the filter
    refuses without CAP_SYS_ADMIN); the child's exit status is the errno it got (0: allowed)."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            seccomp.install(prog)
            try:
                call()
                code = 0
            except OSError as err:
                code = err.errno
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_the_kept_program_is_the_filter_and_is_built_once(cache_dir, monkeypatch):
    first = seccomp.program(CAPS)
    kept = list(cache_dir.iterdir())
    assert len(kept) == 1 and kept[0].read_bytes() == first
    assert oct(cache_dir.stat().st_mode & 0o777) == "0o700" and oct(kept[0].stat().st_mode & 0o777) == "0o600"
    seccomp._programs.clear()  # as a later process: it reads the kept program, never builds
    monkeypatch.setattr(seccomp, "_build", lambda caps: pytest.fail("built again"))
    assert seccomp.program(CAPS) == first
    assert errno_under(first) == errno.EPERM


def test_a_program_others_could_have_written_is_not_loaded(cache_dir):
    real = seccomp.program(CAPS)
    (kept,) = cache_dir.iterdir()
    allow_all = bytes.fromhex("060000000000ff7f")  # one instruction: return ALLOW
    for make_unsafe in (lambda: cache_dir.chmod(0o777), lambda: kept.chmod(0o666)):
        kept.write_bytes(allow_all)
        make_unsafe()
        seccomp._programs.clear()
        assert seccomp.program(CAPS) == real
        cache_dir.chmod(0o700)
        kept.chmod(0o600)
    kept.write_bytes(b"\0" * 13)  # not a whole number of instructions
    seccomp._programs.clear()
    assert seccomp.program(CAPS) == real
