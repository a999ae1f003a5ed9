"""A seccomp profile in docker's JSON format (`--security-opt seccomp=profile.json`), read
into rules that runtime.seccomp loads with libseccomp.

Supported: defaultAction and defaultErrnoRet; architectures (and archMap); per rule names
(or the older name), action, errnoRet, args (index, value, valueTwo, op) and the
includes/excludes conditions on caps, arches and minKernel, as docker evaluates them for the
container's capabilities. SCMP_ACT_NOTIFY needs a listener cairn does not run and is refused,
as is anything else unknown (ProfileError, with the field).
"""

from __future__ import annotations

import errno
import os

from .record import Record, record

ACTIONS = {"SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
           "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000,
           "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000}
OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
       "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
# docker writes Go's names in includes.arches; the kernel's names are accepted too
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}
MAX_RULES = 4096


class ProfileError(ValueError):
    pass


class Unsupported(ProfileError):
    """A valid profile asks for what cairn cannot give (SCMP_ACT_NOTIFY)."""


@record
class Rule(Record):
    names: tuple[str, ...]
    action: int  # libseccomp's action, errno folded in
    args: tuple[tuple[int, int, int, int], ...]  # (index, op, value, valueTwo)


@record
class Profile(Record):
    default_action: int
    architectures: tuple[str, ...]  # libseccomp's names: x86, x32, arm, ...
    rules: tuple[Rule, ...]


def _action(name, errno_ret, where: str) -> int:
    if name == "SCMP_ACT_NOTIFY":
        raise Unsupported(f"{where}: SCMP_ACT_NOTIFY needs a seccomp agent, which cairn does not run")
    if name not in ACTIONS:
        raise ProfileError(f"{where}: unknown action {name!r}")
    code = ACTIONS[name]
    if name == "SCMP_ACT_ERRNO":
        code |= int(errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF
    return code


def _kernel() -> tuple[int, ...]:
    release = os.uname().release.split("-")[0]
    return tuple(int(p) for p in release.split(".")[:2] if p.isdigit())


def _applies(rule: dict, caps: set[str], arch: str) -> bool:
    arches = {arch, _GO_ARCH.get(arch, arch)}
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if inc.get("caps") and not set(inc["caps"]) <= caps:
        return False
    if inc.get("arches") and not arches & set(inc["arches"]):
        return False
    if inc.get("minKernel"):
        want = tuple(int(p) for p in str(inc["minKernel"]).split(".")[:2])
        if _kernel() < want:
            return False
    if exc.get("caps") and set(exc["caps"]) & caps:
        return False
    if exc.get("arches") and arches & set(exc["arches"]):
        return False
    return True


def _arch_name(name: str) -> str:
    return name.removeprefix("SCMP_ARCH_").lower()


def parse(doc: object, capabilities: tuple[str, ...], arch: str | None = None) -> Profile:
    """The rules of docker profile `doc` (parsed JSON) for a container keeping `capabilities`."""
    arch = arch or os.uname().machine
    if not isinstance(doc, dict) or "defaultAction" not in doc:
        raise ProfileError("not a seccomp profile: it has no defaultAction")
    default = _action(doc["defaultAction"], doc.get("defaultErrnoRet"), "defaultAction")
    names = [a for a in doc.get("architectures") or []]
    for entry in doc.get("archMap") or []:  # only the native architecture's entry, as runc does
        if isinstance(entry, dict) and _arch_name(str(entry.get("architecture", ""))) == arch:
            names += [entry["architecture"]] + list(entry.get("subArchitectures") or [])
    architectures = tuple(dict.fromkeys(_arch_name(n) for n in names if isinstance(n, str) and n))
    caps = set(capabilities)
    rules = []
    syscalls = doc.get("syscalls") or []
    if not isinstance(syscalls, list) or len(syscalls) > MAX_RULES:
        raise ProfileError(f"syscalls: a list of at most {MAX_RULES} rules")
    for i, rule in enumerate(syscalls):
        where = f"syscalls[{i}]"
        if not isinstance(rule, dict):
            raise ProfileError(f"{where}: not an object")
        if not _applies(rule, caps, arch):
            continue
        calls = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
        if not calls or not all(isinstance(c, str) for c in calls):
            raise ProfileError(f"{where}: names must list system calls")
        args = []
        for arg in rule.get("args") or []:
            op = arg.get("op")
            if op not in OPS:
                raise ProfileError(f"{where}: unknown op {op!r}")
            try:
                args.append((int(arg["index"]), OPS[op], int(arg.get("value", 0)), int(arg.get("valueTwo", 0))))
            except (KeyError, TypeError, ValueError):
                raise ProfileError(f"{where}: args need a numeric index and value") from None
        rules.append(Rule(tuple(calls), _action(rule.get("action"), rule.get("errnoRet"), where), tuple(args)))
    return Profile(default, architectures, tuple(rules))
