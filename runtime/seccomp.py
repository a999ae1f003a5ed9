"""The seccomp filter of runtime.seccomp_profile, built by libseccomp (Debian's libseccomp2,
via ctypes) and loaded in the container's process just before it drops its capabilities
and execs. A missing libseccomp is an error, never a silent no-filter.

Building the filter (some 300 rules, then libseccomp's compiler) took 17-20 ms here, at
every container start and RUN step; the program it makes depends only on the profile, the
capabilities kept, the architecture, the kernel and libseccomp. So `program()` builds it in
the parent, once a process, and for root keeps its bytes in CACHE_DIR (a directory of root's
alone on /run, emptied at boot), named by a digest of all of those; the container's process
only loads the bytes (`install`). The program kept is libseccomp's rewritten by
runtime.seccomp_compact (the same decisions, a third of the load time). A cached file
that is not root's alone, or not a BPF program's size, is not read."""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct

from . import seccomp_profile as profile
from . import syscalls as sc

_ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000
_CMP_NE, _CMP_EQ, _CMP_MASKED_EQ = 1, 4, 7
_FLTATR_CTL_NNP = 3
_EXTRA_ARCHES = {"x86_64": (b"x86", b"x32"), "aarch64": (b"arm",)}
CACHE_DIR = "/run/cairn-seccomp"
_MAX_PROGRAM = 4096 * 8  # BPF_MAXINSNS instructions of 8 bytes
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_programs: dict[tuple, bytes] = {}
_COMPACT_SOURCE = os.path.join(os.path.dirname(__file__), "seccomp_compact.py")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


class SeccompError(OSError):
    pass


_lib: ctypes.CDLL | None = None


def _libseccomp() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2")
        except OSError:
            raise SeccompError(errno.ENOENT, "libseccomp.so.2 is missing (Debian's libseccomp2)") from None
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgCmp)]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.seccomp_api_get.restype = ctypes.c_uint
        lib.seccomp_version.restype = ctypes.POINTER(ctypes.c_uint * 3)
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


def load(capabilities: tuple[str, ...] = ()) -> None:
    """In the parent: open libseccomp (a missing library is a clear error there) and make the
    program for `capabilities`, which the container's process, a fork, then finds in memory."""
    _libseccomp()
    if capabilities:
        program(capabilities)


def message(proc) -> bytes:
    """In the parent, after the fork, while PID 1 builds its root (~1 ms less before it): the
    default program for `proc` (runtime.spec.Process), as its length and bytes, for the start
    pipe; a zero length when there is none to send (no seccomp, or a profile of the user's)."""
    if not proc.seccomp or proc.seccomp_profile is not None:
        return struct.pack("!I", 0)
    from .process import ContainerStartError

    try:
        prog = program(proc.capabilities)
    except OSError as err:
        raise ContainerStartError(125, str(err)) from None
    return struct.pack("!I", len(prog)) + prog


def receive(fd: int, capabilities: tuple[str, ...]) -> None:
    """In the container's process: read what `message` sent; `apply` then loads it."""
    size = struct.unpack("!I", _read_exact(fd, 4))[0]
    if size:
        _programs[tuple(sorted(capabilities))] = _read_exact(fd, size)


def _read_exact(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise EOFError("the parent went away")
        data += chunk
    return data


def apply(capabilities: tuple[str, ...]) -> None:
    """In the container's process, inside its root: load the program the parent made. It
    never reads CACHE_DIR from here (that path is the image's now): without the parent's
    program it builds one."""
    key = tuple(sorted(capabilities))
    install(_programs.get(key) or _build(key))


def _check(res: int, what: str) -> None:
    if res < 0:
        raise SeccompError(-res, f"seccomp: {what}: {os.strerror(-res)}")


def program(capabilities: tuple[str, ...]) -> bytes:
    """The BPF program of docker's default filter for a process keeping `capabilities`."""
    key = tuple(sorted(capabilities))
    found = _programs.get(key)
    if found is None:
        name = _cache_name(key)
        found = _read_cached(name)
        if found is None:
            found = _build(key)
            if os.geteuid() == 0:  # (the rewrite, ~20 ms, pays where the program is kept: root's)
                found = _shorter(found)
            _write_cached(name, found)
        _programs[key] = found
    return found


def _shorter(prog: bytes) -> bytes:
    """libseccomp's program rewritten with the same decisions and a binary search
    (runtime.seccomp_compact: the kernel loads it in ~0.6 ms instead of ~1.9); a program
    the rewrite does not understand is kept as it is."""
    from . import seccomp_compact  # (only when a program is built, not at every start)

    try:
        return seccomp_compact.compact(prog)
    except Exception:  # noqa: BLE001 - Unsupported, or a program it misreads (a jump past the end): kept
        return prog


def install(prog: bytes) -> None:
    """Load a program in this process (as seccomp_load does: no flags, no no_new_privs)."""
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = _SockFprog(len(prog) // 8, ctypes.addressof(buf))
    sc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog))


def _cache_name(capabilities: tuple[str, ...]) -> str:
    lib = _libseccomp()
    try:  # the small builtin sha256: hashlib loads OpenSSL (~4 ms of every run's start) for two small files
        from _sha256 import sha256
    except ImportError:  # (a Python built without it)
        from hashlib import sha256
    h = sha256()
    for module in (__file__, profile.__file__, _COMPACT_SOURCE):  # the rules, the rewrite
        with open(module, "rb") as f:
            h.update(f.read())
    version = lib.seccomp_version().contents
    uname = os.uname()
    h.update(repr((capabilities, uname.machine, uname.release, tuple(version), lib.seccomp_api_get())).encode())
    return h.hexdigest()


def _private_dir() -> bool:
    try:
        st = os.lstat(CACHE_DIR)
    except FileNotFoundError:
        try:
            os.mkdir(CACHE_DIR, 0o700)
            st = os.lstat(CACHE_DIR)
        except OSError:
            return False
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and not st.st_mode & 0o077


def _read_cached(name: str) -> bytes | None:
    if os.geteuid() != 0 or not _private_dir():
        return None
    try:
        fd = os.open(os.path.join(CACHE_DIR, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o077:
            return None
        data = os.read(fd, _MAX_PROGRAM + 1)
    finally:
        os.close(fd)
    return data if data and len(data) % 8 == 0 and len(data) <= _MAX_PROGRAM else None


def _write_cached(name: str, data: bytes) -> None:
    if os.geteuid() != 0 or not _private_dir():
        return
    tmp = os.path.join(CACHE_DIR, f".{name}.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(CACHE_DIR, name))
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _build(capabilities: tuple[str, ...]) -> bytes:
    lib = _libseccomp()
    ctx = lib.seccomp_init(_ACT_ERRNO | errno.EPERM)
    if not ctx:
        raise SeccompError(errno.ENOMEM, "seccomp: cannot make a filter")
    try:
        arch = os.uname().machine
        for name in _EXTRA_ARCHES.get(arch, ()):
            token = lib.seccomp_arch_resolve_name(name)
            if token:
                res = lib.seccomp_arch_add(ctx, token)
                if res not in (0, -errno.EEXIST):
                    _check(res, f"arch {name.decode()}")
        # loaded with our capabilities still held: no_new_privs is the spec's choice, not libseccomp's
        _check(lib.seccomp_attr_set(ctx, _FLTATR_CTL_NNP, 0), "attribute")

        def rule(action: int, name: str, *cmps: tuple[int, int, int, int]) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                return  # a call this architecture does not have
            args = (_ArgCmp * max(1, len(cmps)))(*[_ArgCmp(*c) for c in cmps])
            _check(lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), args), name)

        allowed = profile.allowed_calls(capabilities, arch)
        for name in sorted(allowed):
            rule(_ACT_ALLOW, name)
        for persona in profile.PERSONALITIES:
            rule(_ACT_ALLOW, "personality", (0, _CMP_EQ, persona, 0))
        rule(_ACT_ALLOW, "socket", (0, _CMP_NE, profile.AF_VSOCK, 0))
        if "clone" not in allowed:
            index = 1 if arch.startswith("s390") else 0
            rule(_ACT_ALLOW, "clone", (index, _CMP_MASKED_EQ, profile.CLONE_NAMESPACE_FLAGS, 0))
        if "clone3" not in allowed:
            rule(_ACT_ERRNO | errno.ENOSYS, "clone3")
        fd = os.memfd_create("cairn-seccomp", os.MFD_CLOEXEC)
        try:
            _check(lib.seccomp_export_bpf(ctx, fd), "export")
            os.lseek(fd, 0, os.SEEK_SET)
            data = os.read(fd, _MAX_PROGRAM + 1)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)
    if not data or len(data) % 8 or len(data) > _MAX_PROGRAM:
        raise SeccompError(errno.EINVAL, f"seccomp: the filter is {len(data)} bytes, not a BPF program")
    return data


def apply_profile(prof) -> None:
    """Install a profile read by runtime.seccomp_json (docker's JSON format)."""
    lib = _libseccomp()
    ctx = lib.seccomp_init(prof.default_action)
    if not ctx:
        raise SeccompError(errno.ENOMEM, "seccomp: cannot make a filter")
    try:
        for name in prof.architectures:
            token = lib.seccomp_arch_resolve_name(name.encode())
            if token:
                res = lib.seccomp_arch_add(ctx, token)
                if res not in (0, -errno.EEXIST):
                    _check(res, f"arch {name}")
        _check(lib.seccomp_attr_set(ctx, _FLTATR_CTL_NNP, 0), "attribute")
        for rule in prof.rules:
            if rule.action == prof.default_action:
                continue  # libseccomp refuses a rule that says what the default says
            for name in rule.names:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr < 0:
                    continue  # a call this architecture does not have
                args = (_ArgCmp * max(1, len(rule.args)))(*[_ArgCmp(i, op, a, b) for i, op, a, b in rule.args])
                res = lib.seccomp_rule_add_array(ctx, rule.action, nr, len(rule.args), args)
                if res != -errno.EEXIST:
                    _check(res, name)
        _check(lib.seccomp_load(ctx), "load")
    finally:
        lib.seccomp_release(ctx)
