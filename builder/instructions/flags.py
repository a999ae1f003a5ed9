"""An instruction's `--flags`, checked the way BuildKit's BFlags checks them.

Each instruction declares its flags with a kind: bool (`--link`, `--link=false`),
string (`--from=x`, once), or strings (`--mount=...`, repeatable). Unknown flags get a
'did you mean' hint; duplicates, missing values and bad booleans are errors.
"""

from __future__ import annotations

from runtime.record import Record, record

from .errors import InstructionError
from .suggest import with_hint

BOOL, STRING, STRINGS = "bool", "string", "strings"


@record
class FlagValues(Record):
    values: dict

    def bool(self, name: str) -> bool:
        return self.values.get(name) == "true"

    def string(self, name: str, default: str = "") -> str:
        value = self.values.get(name)
        return default if value is None else value

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(self.values.get(name, ()))

    def given(self, name: str) -> bool:
        return name in self.values


def parse_flags(flags: tuple[str, ...], spec: dict[str, str]) -> FlagValues:
    values: dict = {}
    for arg in flags:
        if not arg.startswith("--"):
            raise InstructionError(f"arg should start with -- : {arg}")
        if arg == "--":
            break
        name, eq, value = arg[2:].partition("=")
        kind = spec.get(name)
        if kind is None:
            raise InstructionError(with_hint(f"unknown flag: {name}", name, spec, case_sensitive=True))
        if name in values and kind != STRINGS:
            raise InstructionError(f"duplicate flag specified: {name}")
        if kind == BOOL:
            if eq and value == "":
                raise InstructionError(f"missing a value on flag: {name}")
            low = value.lower()
            if low in ("true", ""):
                values[name] = "true"
            elif low == "false":
                values[name] = "false"
            else:
                raise InstructionError(f"expecting boolean value for flag {name}, not: {value}")
        else:
            if not eq:
                raise InstructionError(f"missing a value on flag: {name}")
            if kind == STRING:
                values[name] = value
            else:
                values.setdefault(name, []).append(value)
    return FlagValues(values)
