"""The Dockerfile syntax tree: frozen values with the lines they came from.

An `Instruction` is one logical line (continuations joined) in BuildKit's shape: a
keyword as written, its `--flags` in order, its arguments, whether the arguments were a
JSON (exec form) array, a nested instruction for ONBUILD, and the heredoc bodies that
followed it. Lines are 1-based and inclusive; `end_line` covers heredoc bodies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)


@dataclass(frozen=True)
class Directive:
    """A parser directive at the top of the file: `# name=value`."""

    name: str
    value: str
    line: int


@dataclass(frozen=True)
class Heredoc:
    """A here-document: `<<[-]NAME` on the instruction line, its body on the lines after."""

    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False
    fd: int = 0

    @property
    def body(self) -> str:
        """The content as the build uses it: with `<<-`, leading tabs removed from each line."""
        return _LEADING_TABS.sub("", self.content) if self.chomp else self.content


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    json: bool = False
    child: Instruction | None = None
    heredocs: tuple[Heredoc, ...] = ()
    original: str = ""
    start_line: int = 0
    end_line: int = 0
    comments: tuple[str, ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        """The keyword in lower case: `run`, `copy`, ..."""
        return self.keyword.lower()


@dataclass(frozen=True)
class Warning:
    message: str
    line: int


@dataclass(frozen=True)
class Dockerfile:
    instructions: tuple[Instruction, ...]
    directives: tuple[Directive, ...] = ()
    escape: str = "\\"
    warnings: tuple[Warning, ...] = ()

    def directive(self, name: str) -> str | None:
        for d in self.directives:
            if d.name == name:
                return d.value
        return None
