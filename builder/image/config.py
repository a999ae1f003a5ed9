"""Applies metadata instructions to an image config the way BuildKit writes it.

`apply(config, command, expand)` changes the `config` section (Env, Cmd, Entrypoint,
WorkingDir, User, Labels, ExposedPorts, Volumes, StopSignal, Shell, Healthcheck,
OnBuild) of an image config document in place. `expand` turns one word into its value
with ARG/ENV applied (the caller's scope), so this module does no scoping itself.
"""

from __future__ import annotations

import platform
import posixpath
from typing import Callable

from ..instructions import types as t
from ..instructions.errors import InstructionError
from .envlist import DEFAULT_PATH, env_list_get, env_list_set  # noqa: F401 - re-exported

DEFAULT_SHELL = ["/bin/sh", "-c"]
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "armv6l": "arm", "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x",
         "riscv64": "riscv64"}

Expand = Callable[[str], str]


def host_platform() -> dict[str, str]:
    machine = platform.machine()
    out = {"os": "linux", "architecture": _ARCH.get(machine, machine)}
    if machine == "armv7l":
        out["variant"] = "v7"
    elif machine == "armv6l":
        out["variant"] = "v6"
    return out


def _shell_wrap(cfg: dict, command: tuple[str, ...], shell_form: bool) -> list[str]:
    if not shell_form:
        return list(command)
    shell = cfg.get("Shell") or DEFAULT_SHELL
    return list(shell) + [command[0] if command else ""]


def _ports(spec: str) -> list[str]:
    """`80`, `80/udp`, `8000-8002/tcp` to docker's "80/tcp" keys."""
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InstructionError(f"invalid proto: {proto}")
    lo, dash, hi = port.partition("-")
    if not lo.isdigit() or (dash and not hi.isdigit()):
        raise InstructionError(f"invalid containerPort: {port}")
    first, last = int(lo), int(hi) if dash else int(lo)
    if last < first or last > 65535:
        raise InstructionError(f"invalid port range: {port}")
    return [f"{p}/{proto}" for p in range(first, last + 1)]


def apply(doc: dict, cmd: t.Command, expand: Expand, *, cmd_set: bool = True) -> None:
    """Apply one metadata command to an image config document (in place).

    `cmd_set` is whether CMD was set earlier in this stage: an ENTRYPOINT clears an
    inherited CMD, as in BuildKit.
    """
    cfg = doc.setdefault("config", {})
    if isinstance(cmd, t.Env):
        env = list(cfg.get("Env") or [])
        for pair in cmd.pairs:
            env = env_list_set(env, expand(pair.key), expand(pair.value))
        cfg["Env"] = env
    elif isinstance(cmd, t.Label):
        labels = dict(cfg.get("Labels") or {})
        for pair in cmd.pairs:
            labels[expand(pair.key)] = expand(pair.value)
        cfg["Labels"] = labels
    elif isinstance(cmd, t.Cmd):
        cfg["Cmd"] = _shell_wrap(cfg, cmd.command, cmd.shell_form)
    elif isinstance(cmd, t.Entrypoint):
        cfg["Entrypoint"] = _shell_wrap(cfg, cmd.command, cmd.shell_form)
        if not cmd_set:
            cfg["Cmd"] = None
    elif isinstance(cmd, t.Workdir):
        path = expand(cmd.path)
        cfg["WorkingDir"] = posixpath.normpath(posixpath.join("/", cfg.get("WorkingDir") or "/", path))
    elif isinstance(cmd, t.User):
        cfg["User"] = expand(cmd.user)
    elif isinstance(cmd, t.Expose):
        ports = dict(cfg.get("ExposedPorts") or {})
        for spec in cmd.ports:
            for word in expand(spec).split():
                for key in _ports(word):
                    ports[key] = {}
        cfg["ExposedPorts"] = ports
    elif isinstance(cmd, t.Volume):
        vols = dict(cfg.get("Volumes") or {})
        for path in cmd.paths:
            value = expand(path)
            if not value.strip():
                raise InstructionError("VOLUME specified can not be an empty string")
            vols[value] = {}
        cfg["Volumes"] = vols
    elif isinstance(cmd, t.StopSignal):
        cfg["StopSignal"] = expand(cmd.signal)
    elif isinstance(cmd, t.Shell):
        cfg["Shell"] = list(cmd.shell)
    elif isinstance(cmd, t.Healthcheck):
        hc: dict = {"Test": list(cmd.test)}
        for key, value in (("Interval", cmd.interval_ns), ("Timeout", cmd.timeout_ns),
                           ("StartPeriod", cmd.start_period_ns), ("StartInterval", cmd.start_interval_ns)):
            if value:
                hc[key] = value
        if cmd.retries:
            hc["Retries"] = cmd.retries
        cfg["Healthcheck"] = hc
    elif isinstance(cmd, t.Onbuild):
        cfg["OnBuild"] = list(cfg.get("OnBuild") or []) + [cmd.expression]
    elif isinstance(cmd, t.Maintainer):
        doc["author"] = expand(cmd.name)
    else:
        raise InstructionError(f"{cmd.keyword} does not change the image config")


METADATA_COMMANDS = (t.Env, t.Label, t.Cmd, t.Entrypoint, t.Workdir, t.User, t.Expose, t.Volume,
                     t.StopSignal, t.Shell, t.Healthcheck, t.Onbuild, t.Maintainer)
