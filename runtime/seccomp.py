"""Loads the seccomp filter of runtime.seccomp_profile through libseccomp (Debian's
libseccomp2, via ctypes), in the container's process just before it drops its
capabilities and execs. A missing libseccomp is an error, never a silent no-filter."""

from __future__ import annotations

import ctypes
import errno
import os

from . import seccomp_profile as profile

_ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000
_CMP_NE, _CMP_EQ, _CMP_MASKED_EQ = 1, 4, 7
_FLTATR_CTL_NNP = 3
_EXTRA_ARCHES = {"x86_64": (b"x86", b"x32"), "aarch64": (b"arm",)}


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
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


def load() -> None:
    """Make sure libseccomp loads (in the parent, so that a missing library is a clear error)."""
    _libseccomp()


def _check(res: int, what: str) -> None:
    if res < 0:
        raise SeccompError(-res, f"seccomp: {what}: {os.strerror(-res)}")


def apply(capabilities: tuple[str, ...]) -> None:
    """Install docker's default filter for a process keeping `capabilities`."""
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
        _check(lib.seccomp_load(ctx), "load")
    finally:
        lib.seccomp_release(ctx)


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
