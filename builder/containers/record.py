"""What a running container's state.json records for later commands (exec, inspect): its
PID 1's start time (so a reused pid is never taken for it), its cgroup directories, its
process settings (env, user, capabilities, seccomp, rlimits: what exec gives a new
process) and the run request as the user gave it."""

from __future__ import annotations

import dataclasses

from runtime.enter import process_start
from runtime.spec import Process, Spec


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def running_fields(pid: int, spec: Spec, cgroup, req) -> dict:
    request = {k: _plain(v) for k, v in vars(req).items() if k != "registry"}
    return {"pid_start": process_start(pid), "process": _plain(spec.process),
            "cgroup_dirs": [str(p) for p in cgroup.paths.values()] if cgroup is not None else [],
            "request": request}


def process_from_state(record: dict) -> Process:
    """The Process that state.json's "process" describes (a container's main process)."""
    known = {f.name: f for f in dataclasses.fields(Process)}
    values = {}
    for key, value in record.items():
        if key not in known:
            continue
        if isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        values[key] = value
    if isinstance(values.get("seccomp_profile"), dict):
        values["seccomp_profile"] = _profile(values["seccomp_profile"])
    return Process(**values)


def _profile(doc: dict):
    """A --security-opt seccomp=PROFILE.json, as run parsed it (runtime.seccomp_json.Profile)."""
    from runtime.seccomp_json import Profile, Rule

    rules = tuple(Rule(tuple(r["names"]), r["action"], tuple(tuple(a) for a in r["args"])) for r in doc["rules"])
    return Profile(doc["default_action"], tuple(doc["architectures"]), rules)
