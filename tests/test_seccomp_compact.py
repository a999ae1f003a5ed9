"""runtime.seccomp_compact: the shorter program a container loads must decide every system
call as libseccomp's program for docker's profile does: each syscall number 0..1023 (and
x32's) on each architecture, the argument-checked calls on many argument values; the kernel
must accept it, and a process under it must be refused what the profile refuses."""

from __future__ import annotations

import ctypes
import errno
import os
import socket

import pytest

from runtime import seccomp
from runtime import seccomp_compact as compact
from runtime import syscalls as sc
from runtime.spec import Process

from .test_seccomp_cache import errno_under as _errno_under

CAPS = Process(args=("true",)).capabilities  # docker's default set: no CAP_SYS_ADMIN
X86_64, I386, AARCH64, ARM = 0xC000003E, 0x40000003, 0xC00000B7, 0x40000028
ARCHES = (X86_64, I386, AARCH64, ARM, 0, 0xFFFFFFFF)
NUMBERS = (*range(1024), *range(0x40000000, 0x40000400), 0x3FFFFFFF, 0x7FFFFFFF, 0xFFFFFFFF)
ARG_VALUES = (0, 1, 2, 8, 11, 20, 40, 41, 0x20000, 0x20008, 0x7E020000, 0x10000000, 0x20000000, 0x40000000,
              0x8000000, 0x4000000, 0x2000000, 0x20000 | 0x11, 0xFFFFFFFF, 1 << 32, (1 << 32) | 40,
              (1 << 32) | 8, 0xFFFFFFFF_FFFFFFFF, 0xFFFFFFFF_00000000)
NOT_X86 = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the tables name x86's numbers")


@pytest.fixture(scope="module", params=[CAPS, (*CAPS, "CAP_SYS_ADMIN")], ids=["default", "sys_admin"])
def programs(request):
    """(libseccomp's program, the rewrite) for a capability set."""
    reference = seccomp._build(tuple(sorted(request.param)))
    return compact.decode(reference), compact.decode(compact.compact(reference))


def test_every_number_on_every_architecture_gets_the_same_answer(programs):
    old, new = programs
    assert len(new) < len(old) * 3 // 4
    differ = [(hex(arch), nr) for arch in ARCHES for nr in NUMBERS
              if compact.run(old, nr, arch) != compact.run(new, nr, arch)]
    assert differ == []


def test_the_argument_checked_calls_get_the_same_answer_for_every_argument(programs):
    old, new = programs
    tracer = compact._Tracer(old)
    checked = [(arch, nr) for arch in ARCHES for nr in NUMBERS if tracer.outcome(nr, arch)[0] == "args"]
    assert len(checked) >= 6  # personality, socket (and clone without CAP_SYS_ADMIN), on two arches at least
    differ = []
    for arch, nr in checked:
        for index in range(6):
            for value in ARG_VALUES:
                args = tuple(value if i == index else 0 for i in range(6))
                if compact.run(old, nr, arch, args) != compact.run(new, nr, arch, args):
                    differ.append((hex(arch), nr, index, hex(value)))
    assert differ == []


def _raw(nr: int, *args: int):
    libc = ctypes.CDLL(None, use_errno=True)

    def call():
        if libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args]) < 0:
            raise OSError(ctypes.get_errno(), "")
    return call


@NOT_X86
@pytest.mark.skipif(os.geteuid() != 0, reason="the calls refused are refused to root too, and tried as root")
def test_the_kernel_loads_it_and_a_container_process_is_refused_what_the_profile_refuses():
    prog = compact.compact(seccomp._build(tuple(sorted(CAPS))))
    assert _errno_under(prog, os.getpid) == 0
    assert _errno_under(prog, lambda: sc.unshare(sc.CLONE_NEWUTS)) == errno.EPERM
    assert _errno_under(prog, _raw(56, 0x10000000 | 17, 0, 0, 0, 0)) == errno.EPERM  # clone(CLONE_NEWUSER)
    assert _errno_under(prog, _raw(435, 0, 0)) == errno.ENOSYS  # clone3: libcs fall back to clone
    assert _errno_under(prog, _raw(135, 0x0400000)) == errno.EPERM  # personality(READ_IMPLIES_EXEC)
    assert _errno_under(prog, _raw(135, 0xFFFFFFFF)) == 0  # personality query
    assert _errno_under(prog, lambda: socket.socket(40, socket.SOCK_STREAM).close()) == errno.EPERM  # AF_VSOCK
    assert _errno_under(prog, lambda: socket.socket(socket.AF_UNIX).close()) == 0
    assert _errno_under(prog, _raw(246, 0, 0, 0, 0)) == errno.EPERM  # kexec_load


def test_a_program_it_does_not_understand_is_loaded_as_libseccomp_made_it(tmp_path, monkeypatch):
    reference = seccomp._build(tuple(sorted(CAPS)))
    odd = compact.encode([(0x80, 0, 0, 0), *compact.decode(reference)])  # `ld len` first: not rewritten
    with pytest.raises(compact.Unsupported):
        compact.compact(odd)
    monkeypatch.setattr(seccomp, "CACHE_DIR", str(tmp_path / "seccomp"))
    monkeypatch.setattr(seccomp, "_programs", {})
    monkeypatch.setattr(seccomp, "_build", lambda caps: odd)
    assert seccomp.program(CAPS) == odd


def test_a_program_the_rewrite_misreads_is_kept_as_it_is():
    """A malformed program (a jump past its end) makes the rewrite fail: the program is kept as
    libseccomp made it, never an internal error at a container's start."""
    import struct

    def ins(code, jt, jf, k):
        return struct.pack("=HBBI", code, jt, jf, k)

    prog = (ins(0x20, 0, 0, 4) + ins(0x15, 200, 0, 0xC000003E) + ins(0x06, 0, 0, 0x7FFF0000)
            + ins(0x20, 0, 0, 0) + ins(0x15, 0, 1, 59) + ins(0x06, 0, 0, 0) + ins(0x06, 0, 0, 0x7FFF0000))
    with pytest.raises(Exception):  # noqa: B017 - (what it raises is the rewrite's business)
        compact.compact(prog)
    assert seccomp._shorter(prog) == prog
