"""The device allow-list on cgroup v2: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE,
assembled here from runtime.devices.ALLOWED, loaded with the bpf(2) syscall through ctypes
and attached to the container's cgroup directory (v2 has no devices.allow file)."""

from __future__ import annotations

import ctypes
import os
import struct

_SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine, 321)
_BPF_PROG_LOAD, _BPF_PROG_ATTACH = 5, 8
_PROG_TYPE_CGROUP_DEVICE, _ATTACH_CGROUP_DEVICE = 15, 6
_F_ALLOW_MULTI = 2
_TYPES = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, _CHAR
_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE

# opcodes (struct bpf_insn: code, dst:4|src:4, off, imm)
_LDX_W, _AND_K, _RSH_K, _MOV_X, _MOV_K = 0x61, 0x57, 0x77, 0xBF, 0xB7
_JNE_K, _JSET_K, _EXIT = 0x55, 0x45, 0x95

_libc = ctypes.CDLL(None, use_errno=True)


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def assemble(rules) -> bytes:
    """The program: r0 = 1 (allow) if a rule matches (type, major, minor, access), else 0."""
    code = [
        _insn(_LDX_W, 2, 1, 0),  # r2 = ctx->access_type
        _insn(_MOV_X, 3, 2), _insn(_AND_K, 3, imm=0xFFFF),  # r3 = type
        _insn(_RSH_K, 2, imm=16),  # r2 = access
        _insn(_LDX_W, 4, 1, 4),  # r4 = major
        _insn(_LDX_W, 5, 1, 8),  # r5 = minor
    ]
    for kind, major, minor, access in rules:
        allowed = sum(_ACCESS[a] for a in access)
        tests = [(_JNE_K, 3, _TYPES[kind])]
        if major is not None:
            tests.append((_JNE_K, 4, major))
        if minor is not None:
            tests.append((_JNE_K, 5, minor))
        tests.append((_JSET_K, 2, 0x7 & ~allowed))  # asks for more than the rule grants
        block_len = len(tests) + 2
        for i, (op, reg, imm) in enumerate(tests):
            code.append(_insn(op, reg, off=block_len - i - 1, imm=imm))
        code += [_insn(_MOV_K, 0, imm=1), _insn(_EXIT)]
    code += [_insn(_MOV_K, 0, imm=0), _insn(_EXIT)]
    return b"".join(code)


class _LoadAttr(ctypes.Structure):
    _fields_ = [("prog_type", ctypes.c_uint32), ("insn_cnt", ctypes.c_uint32), ("insns", ctypes.c_uint64),
                ("license", ctypes.c_uint64), ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32),
                ("log_buf", ctypes.c_uint64), ("kern_version", ctypes.c_uint32), ("prog_flags", ctypes.c_uint32),
                ("pad", ctypes.c_uint8 * 80)]


class _AttachAttr(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_bpf_fd", ctypes.c_uint32),
                ("attach_type", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32),
                ("pad", ctypes.c_uint8 * 32)]


def _bpf(cmd: int, attr: ctypes.Structure, what: str) -> int:
    res = _libc.syscall(ctypes.c_long(_SYS_BPF), ctypes.c_int(cmd), ctypes.byref(attr),
                        ctypes.c_uint(ctypes.sizeof(attr)))
    if res < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf {what}: {os.strerror(err)}")
    return res


def attach(cgroup_dir: str, rules) -> None:
    """Load the program for `rules` and attach it to the cgroup v2 directory."""
    program = assemble(rules)
    buf = ctypes.create_string_buffer(program, len(program))
    license_ = ctypes.create_string_buffer(b"Apache-2.0")
    load = _LoadAttr(_PROG_TYPE_CGROUP_DEVICE, len(program) // 8, ctypes.addressof(buf),
                     ctypes.addressof(license_))
    prog_fd = _bpf(_BPF_PROG_LOAD, load, "load the device program")
    try:
        dir_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _bpf(_BPF_PROG_ATTACH, _AttachAttr(dir_fd, prog_fd, _ATTACH_CGROUP_DEVICE, _F_ALLOW_MULTI),
                 f"attach the device program to {cgroup_dir}")
        finally:
            os.close(dir_fd)
    finally:
        os.close(prog_fd)  # the attachment holds the program

