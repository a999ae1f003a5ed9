"""Which checks run and whether they fail the build: the `# check=` parser directive, or the
BUILDKIT_DOCKERFILE_CHECK build arg that replaces it, as BuildKit reads them:
`skip=Rule1,Rule2|all;error=true|false;experimental=Rule3|all`."""

from __future__ import annotations

from runtime.record import Record, record

from ..instructions.errors import InstructionError
from .rules import Rule

BUILD_ARG = "BUILDKIT_DOCKERFILE_CHECK"


@record
class CheckConfig(Record):
    skip: frozenset[str] = frozenset()
    skip_all: bool = False
    error: bool = False
    experimental: frozenset[str] = frozenset()
    experimental_all: bool = False

    def enabled(self, rule: Rule) -> bool:
        if rule.experimental:  # an experimental rule runs when named, even under skip=all
            return self.experimental_all or rule.name in self.experimental
        return not self.skip_all and rule.name not in self.skip


def _names(value: str) -> tuple[frozenset[str], bool]:
    names = frozenset(n.strip() for n in value.split(",") if n.strip())
    return names, "all" in names


def parse_config(text: str | None, line: int = 0) -> CheckConfig:
    """Raises InstructionError (at `line`, the directive's) for a malformed value."""
    if not text:
        return CheckConfig()
    fields: dict = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if not eq or key not in ("skip", "error", "experimental"):
            raise InstructionError(f"invalid check option {part!r}: expected skip=, error= or experimental=").at(line)
        value = value.strip()
        if key == "error":
            if value.lower() not in ("true", "false", "1", "0"):
                raise InstructionError(f"invalid check option {part!r}: error= takes true or false").at(line)
            fields["error"] = value.lower() in ("true", "1")
        elif key == "skip":
            fields["skip"], fields["skip_all"] = _names(value)
        else:
            fields["experimental"], fields["experimental_all"] = _names(value)
    return CheckConfig(**fields)
