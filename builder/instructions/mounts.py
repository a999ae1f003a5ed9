"""`RUN --mount=type=...,target=...` read and checked as BuildKit reads it.

A value that still holds a `$` is checked only for its shape here; the planner parses
the flag again once build args are known (`parse_mount(text, expand)`).
"""

from __future__ import annotations

import csv
from typing import Callable

from .. import units
from .errors import InstructionError
from .suggest import with_hint
from .types import Mount

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
MOUNT_KEYS = ("type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro", "readwrite",
              "rw", "required", "size", "id", "sharing", "mode", "uid", "gid", "env")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _go_bool(key: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InstructionError(f"invalid value for {key}: {value}")


def ram_in_bytes(value: str) -> int:
    try:
        return units.ram_in_bytes(value)
    except ValueError as err:
        raise InstructionError(str(err)) from None


def _fields(text: str) -> list[str]:
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as err:
        raise InstructionError(f"failed to parse csv mounts: {err}") from None
    return rows[0] if rows else []


def parse_mount(text: str, expand: Callable[[str], str] | None = None) -> Mount:
    values: dict = {"raw": text}
    mtype = "bind"
    ro_auto = True
    deferred = expand is None

    def later(value: str) -> bool:
        return deferred and "$" in value

    for field in _fields(text):
        key, eq, value = field.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                values["readonly"], ro_auto = True, False
            elif key in ("readwrite", "rw"):
                values["readonly"], ro_auto = False, False
            elif key == "required":
                if mtype not in ("secret", "ssh"):
                    raise InstructionError(f"unexpected key '{key}' for mount type '{mtype}'")
                values["required"] = True
            else:
                raise InstructionError(f"invalid field '{field}' must be a key=value pair")
            continue
        if expand is not None:
            value = expand(value)
        if key == "from" and "$" in value:
            # BuildKit's rule: name the stage (a FROM with a global ARG) instead
            raise InstructionError("'from' doesn't support variable expansion, define alias stage instead")
        if later(value):
            continue  # checked again once build args are known
        if key == "type":
            low = value.lower()
            if low not in MOUNT_TYPES:
                raise InstructionError(with_hint(f'unsupported mount type "{value}"', value, MOUNT_TYPES))
            mtype = low
        elif key == "from":
            values["from_"] = value
        elif key in ("source", "src"):
            values["source"] = value
        elif key in ("target", "dst", "destination"):
            values["target"] = value
        elif key in ("readonly", "ro"):
            values["readonly"], ro_auto = _go_bool(key, value), False
        elif key in ("readwrite", "rw"):
            values["readonly"], ro_auto = not _go_bool(key, value), False
        elif key == "required":
            if mtype not in ("secret", "ssh"):
                raise InstructionError(f"unexpected key '{key}' for mount type '{mtype}'")
            values["required"] = _go_bool(key, value)
        elif key == "size":
            if mtype != "tmpfs":
                raise InstructionError(f"unexpected key '{key}' for mount type '{mtype}'")
            values["size"] = ram_in_bytes(value)
        elif key == "id":
            values["id"] = value
        elif key == "sharing":
            low = value.lower()
            if low not in SHARING_MODES:
                raise InstructionError(f'unsupported sharing value "{value}"')
            values["sharing"] = low
        elif key in ("mode", "uid", "gid"):
            try:
                number = int(value, 8 if key == "mode" else 10)
                if number < 0 or number >= 1 << 32 or not value.isdigit():
                    raise ValueError
            except ValueError:
                raise InstructionError(f"invalid value {value} for {key}") from None
            values[key] = number
        elif key == "env":
            values["env"] = value
        else:
            raise InstructionError(with_hint(f"unexpected key '{key}' in '{field}'", key, MOUNT_KEYS))

    if mtype not in ("secret", "ssh", "cache"):
        for key in ("mode", "uid", "gid"):
            if values.get(key) is not None:
                raise InstructionError(f'{key} not allowed for "{mtype}" type mounts')
    if ro_auto:
        values["readonly"] = mtype not in ("cache", "tmpfs")
    if values.get("sharing") and mtype != "cache":
        raise InstructionError(f"invalid cache sharing set for {mtype} mount")
    if mtype == "secret":
        if values.get("from_"):
            raise InstructionError("secret mount should not have a from")
        if not deferred and not (values.get("source") or values.get("target") or values.get("id")):
            raise InstructionError("invalid secret mount. one of source, target required")
        if values.get("source") and values.get("id"):
            raise InstructionError("both source and id can't be set")
    if mtype in ("bind", "cache", "tmpfs") and not values.get("target") and not _has_deferred_target(text, deferred):
        raise InstructionError("mount target must be specified")
    if mtype == "cache" and not values.get("sharing"):
        values["sharing"] = "shared"
    values["type"] = mtype
    return Mount(**values)


def _has_deferred_target(text: str, deferred: bool) -> bool:
    if not deferred:
        return False
    return any(
        f.partition("=")[0].lower() in ("target", "dst", "destination") and "$" in f
        for f in _fields(text)
    )
