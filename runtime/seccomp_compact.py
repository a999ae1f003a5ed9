"""A shorter BPF program with the same decisions as libseccomp's (runtime.seccomp).

libseccomp compiles docker's profile into a linear chain: one comparison per allowed call
and architecture (955 instructions here). The kernel checks and JITs the program when it is
loaded, and emulates it once per syscall number and architecture to fill its action cache:
~2 ms of every container start. This module reads libseccomp's program as the authority and
writes another one: the architecture dispatch, then per architecture a binary search over
ranges of syscall numbers with the same outcome, and, for the few calls whose outcome
depends on their arguments (personality, socket, clone, ...), libseccomp's own argument
checks copied unchanged.

Why the decisions are the same: the outcome of a syscall number can only change where the
program compares the number with a constant (jeq, jgt, jge; anything else on the number is
refused here). So every number in a range between two consecutive "breakpoints" (each
constant k of a comparison gives k and k+1) follows the same path, and evaluating the
program once per range, per architecture the program tests, gives the whole table. An
outcome that reads an argument is the jump to a copy of the instructions reachable from
that load, which read only arguments. A program this module does not understand raises
Unsupported: the caller then keeps libseccomp's own.
"""

from __future__ import annotations

import struct

_LD_ABS, _LD_IMM, _AND_K, _JA, _RET_K = 0x20, 0x00, 0x54, 0x05, 0x06
_JEQ, _JGT, _JGE, _JSET = 0x15, 0x25, 0x35, 0x45
_COMPARE = (_JEQ, _JGT, _JGE)
_NR, _ARCH, _ARGS, _DATA_END = 0, 4, 16, 64
_U32 = 0xFFFFFFFF


class Unsupported(ValueError):
    """The program uses what this module does not rewrite."""


def decode(prog: bytes) -> list[tuple[int, int, int, int]]:
    if not prog or len(prog) % 8:
        raise Unsupported("not a BPF program")
    return [struct.unpack_from("<HBBI", prog, i) for i in range(0, len(prog), 8)]


def encode(insns: list[tuple[int, int, int, int]]) -> bytes:
    return b"".join(struct.pack("<HBBI", *i) for i in insns)


def run(insns, nr: int, arch: int, args: tuple[int, ...] = (0,) * 6) -> int:
    """What the kernel would return for this seccomp_data (a small interpreter of the
    instructions libseccomp uses; anything else raises Unsupported)."""
    data = struct.pack("<II8x6Q", nr, arch, *args)
    a, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == _LD_ABS:
            if k % 4 or k + 4 > _DATA_END:
                raise Unsupported(f"load at {k}")
            a = struct.unpack_from("<I", data, k)[0]
        elif code == _LD_IMM:
            a = k
        elif code == _AND_K:
            a &= k
        elif code == _JA:
            pc += k
        elif code in (_JEQ, _JGT, _JGE, _JSET):
            hit = a == k if code == _JEQ else a > k if code == _JGT else a >= k if code == _JGE else bool(a & k)
            pc += jt if hit else jf
        elif code == _RET_K:
            return k
        else:
            raise Unsupported(f"opcode {code:#x}")


class _Tracer:
    """Evaluates libseccomp's program for a number and an architecture, following what A
    holds; stops at the first load of an argument."""

    def __init__(self, insns):
        self.insns = insns
        self.arch_constants: set[int] = set()
        self._runs: dict[int, tuple[dict[int, int], int]] = {}

    def _run_from(self, pc: int) -> tuple[dict[int, int], int]:
        """For a chain of `jeq k` that fall through when false: each k's first target, and
        the first pc after the chain."""
        found = self._runs.get(pc)
        if found is None:
            targets: dict[int, int] = {}
            i = pc
            while i < len(self.insns) and self.insns[i][0] == _JEQ and self.insns[i][2] == 0:
                targets.setdefault(self.insns[i][3], i + 1 + self.insns[i][1])
                i += 1
            found = self._runs[pc] = (targets, i)
        return found

    def outcome(self, nr: int, arch: int) -> tuple[str, int]:
        """("ret", value) or ("args", pc of the first argument load)."""
        insns, a, held, pc = self.insns, 0, "imm", 0
        while True:
            code, jt, jf, k = insns[pc]
            if code == _LD_ABS:
                if k == _NR:
                    a, held = nr, "nr"
                elif k == _ARCH:
                    a, held = arch, "arch"
                elif _ARGS <= k < _DATA_END and not k % 4:
                    return ("args", pc)
                else:
                    raise Unsupported(f"load at {k}")
                pc += 1
            elif code == _LD_IMM:
                a, held, pc = k, "imm", pc + 1
            elif code == _JA:
                pc += 1 + k
            elif code == _RET_K:
                return ("ret", k)
            elif code in (_JEQ, _JGT, _JGE, _JSET):
                if held == "arch" and code != _JEQ or held == "nr" and code not in _COMPARE:
                    raise Unsupported(f"opcode {code:#x} on the {held}")
                if held == "arch":
                    self.arch_constants.add(k)
                if code == _JEQ and jf == 0:
                    targets, end = self._run_from(pc)
                    if held == "arch":
                        self.arch_constants.update(targets)
                    pc = targets.get(a, end)
                    continue
                hit = a == k if code == _JEQ else a > k if code == _JGT else a >= k if code == _JGE else bool(a & k)
                pc += 1 + (jt if hit else jf)
            else:
                raise Unsupported(f"opcode {code:#x}")


def _breakpoints(insns) -> list[int]:
    points = {0}
    for code, _jt, _jf, k in insns:
        if code in (_JEQ, _JGT, _JGE, _JSET):
            points.add(k)
            if k < _U32:
                points.add(k + 1)
    return sorted(points)


def _ranges(tracer: _Tracer, points: list[int], arch: int) -> list[tuple[int, tuple[str, int]]]:
    """(first number, outcome) of each range of numbers with one outcome, in order."""
    out: list[tuple[int, tuple[str, int]]] = []
    for p in points:
        o = tracer.outcome(p, arch)
        if not out or out[-1][1] != o:
            out.append((p, o))
    return out


def _subgraph(insns, start: int) -> list[int]:
    """The pcs reachable from an argument load: only argument loads, `and`, comparisons,
    jumps and returns."""
    seen, todo = set(), [start]
    while todo:
        pc = todo.pop()
        if pc in seen:
            continue
        seen.add(pc)
        code, jt, jf, k = insns[pc]
        if code == _RET_K:
            continue
        if code == _LD_ABS and not (_ARGS <= k < _DATA_END and not k % 4):
            raise Unsupported("an argument check reads more than the arguments")
        if code in (_LD_ABS, _AND_K, _LD_IMM):
            todo.append(pc + 1)
        elif code == _JA:
            todo.append(pc + 1 + k)
        elif code in (_JEQ, _JGT, _JGE, _JSET):
            todo += [pc + 1 + jt, pc + 1 + jf]
        else:
            raise Unsupported(f"opcode {code:#x} in an argument check")
    return sorted(seen)


def _tree(ranges) -> list:
    """A binary search over `ranges` (A holds the number): `jge` nodes, leaves that return
    or jump ("sub", pc) to an argument check."""
    if len(ranges) == 1:
        kind, value = ranges[0][1]
        return [(_RET_K, 0, 0, value)] if kind == "ret" else [("sub", value)]
    mid = len(ranges) // 2
    left, right = _tree(ranges[:mid]), _tree(ranges[mid:])
    split = ranges[mid][0]
    if len(left) <= 255:
        return [(_JGE, len(left), 0, split), *left, *right]
    return [(_JGE, 0, 1, split), (_JA, 0, 0, len(left)), *left, *right]


def compact(prog: bytes) -> bytes:
    """The shorter program; raises Unsupported for a program it cannot rewrite."""
    insns = decode(prog)
    tracer = _Tracer(insns)
    points = _breakpoints(insns)
    tracer.outcome(0, 0)  # (the architecture tests come first: collect their constants)
    other = next(v for v in range(len(points) + 2) if v not in points)
    tables: dict[int, list] = {}
    while True:
        for arch in sorted(tracer.arch_constants - set(tables)):
            tables[arch] = _ranges(tracer, points, arch)
        if set(tables) >= tracer.arch_constants:
            break
    tables[other] = _ranges(tracer, points, other)
    if tracer.arch_constants - set(tables) or other in tracer.arch_constants:
        raise Unsupported("architectures tested late")
    subs: dict[int, list[int]] = {}
    for ranges in tables.values():
        for _first, (kind, value) in ranges:
            if kind == "args" and value not in subs:
                subs[value] = _subgraph(insns, value)
    known = sorted(a for a in tables if a != other)
    body: list = [(_LD_ABS, 0, 0, _ARCH)]
    for arch in known:
        body += [(_JEQ, 0, 1, arch), ("table", arch)]
    body.append(("table", other))
    starts: dict[tuple, int] = {}
    for arch in [*known, other]:
        starts[("table", arch)] = len(body)
        body += [(_LD_ABS, 0, 0, _NR), *_tree(tables[arch])]
    for pc, pcs in subs.items():
        base = len(body)
        where = {old: base + i for i, old in enumerate(pcs)}
        starts[("sub", pc)] = base
        for old in pcs:
            code, jt, jf, k = insns[old]
            here = where[old]
            if code == _JA:
                body.append((code, 0, 0, where[old + 1 + k] - here - 1))
            elif code in (_JEQ, _JGT, _JGE, _JSET):
                t, f = where[old + 1 + jt] - here - 1, where[old + 1 + jf] - here - 1
                if t > 255 or f > 255:
                    raise Unsupported("an argument check too far apart")
                body.append((code, t, f, k))
            else:
                if code != _RET_K and where.get(old + 1) != here + 1:
                    raise Unsupported("an argument check that falls through a gap")
                body.append((code, jt, jf, k))
    out = [(_JA, 0, 0, starts[i] - n - 1) if isinstance(i[0], str) else i for n, i in enumerate(body)]
    if len(out) >= len(insns):
        raise Unsupported("not shorter")
    _check_same(insns, out, tracer, points, tables)
    return encode(out)


def _check_same(old, new, tracer: _Tracer, points, tables) -> None:
    """Every range's first number gives the same return in both, per architecture (the
    argument checks are copies; tests/test_seccomp_compact.py runs them on many values)."""
    for arch, ranges in tables.items():
        for first, (kind, value) in ranges:
            if kind == "ret" and run(new, first, arch) != value:
                raise Unsupported("the rewrite differs")
            if kind == "args" and run(new, first, arch) != run(old, first, arch):
                raise Unsupported("the rewrite differs")
