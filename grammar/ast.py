"""The Dockerfile syntax tree: frozen values with the lines they came from.

An `Instruction` is one logical line (continuations joined) in BuildKit's shape: a
keyword as written, its `--flags` in order, its arguments, whether the arguments were a
JSON (exec form) array, a nested instruction for ONBUILD, and the heredoc bodies that
followed it. Lines are 1-based and inclusive; `end_line` covers heredoc bodies.
"""

from __future__ import annotations

import re

_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)


class Value:
    """Grammar's frozen values: slotted classes, equal to a value of exactly the same class
    whose compared fields (`_compared`, default every slot) are equal, hashed by those, and
    immutable once made. (A frozen dataclass costs every process about 1 ms a class to
    define, and grammar imports nothing of cairn's own.) Each class's __init__ takes its
    slots in order, so a value is rebuilt from them (copy, pickle)."""

    __slots__ = ()
    _compared: tuple[str, ...] = ()

    def _fill(self, **fields) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def _key(self) -> tuple:
        return tuple(getattr(self, n) for n in (self._compared or self.__slots__))

    def __eq__(self, other):
        return self._key() == other._key() if other.__class__ is self.__class__ else NotImplemented

    def __hash__(self):
        return hash(self._key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"

    def __reduce__(self):
        return type(self), tuple(getattr(self, n) for n in self.__slots__)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable: cannot assign to {name!r}")

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")


class Directive(Value):
    """A parser directive at the top of the file: `# name=value`."""

    __slots__ = ("name", "value", "line")

    def __init__(self, name: str, value: str, line: int):
        self._fill(name=name, value=value, line=line)


class Heredoc(Value):
    """A here-document: `<<[-]NAME` on the instruction line, its body on the lines after."""

    __slots__ = ("name", "content", "expand", "chomp", "fd")

    def __init__(self, name: str, content: str = "", expand: bool = True, chomp: bool = False, fd: int = 0):
        self._fill(name=name, content=content, expand=expand, chomp=chomp, fd=fd)

    @property
    def body(self) -> str:
        """The content as the build uses it: with `<<-`, leading tabs removed from each line."""
        return _LEADING_TABS.sub("", self.content) if self.chomp else self.content


class Instruction(Value):
    __slots__ = ("keyword", "args", "flags", "json", "child", "heredocs", "original", "start_line", "end_line",
                 "comments")
    _compared = __slots__[:-1]  # (comments are not compared)

    def __init__(self, keyword: str, args: tuple[str, ...] = (), flags: tuple[str, ...] = (), json: bool = False,
                 child: Instruction | None = None, heredocs: tuple[Heredoc, ...] = (), original: str = "",
                 start_line: int = 0, end_line: int = 0, comments: tuple[str, ...] = ()):
        self._fill(keyword=keyword, args=args, flags=flags, json=json, child=child, heredocs=heredocs,
                   original=original, start_line=start_line, end_line=end_line, comments=comments)

    @property
    def name(self) -> str:
        """The keyword in lower case: `run`, `copy`, ..."""
        return self.keyword.lower()


class Warning(Value):
    __slots__ = ("message", "line")

    def __init__(self, message: str, line: int):
        self._fill(message=message, line=line)


class Dockerfile(Value):
    __slots__ = ("instructions", "directives", "escape", "warnings")

    def __init__(self, instructions: tuple[Instruction, ...], directives: tuple[Directive, ...] = (),
                 escape: str = "\\", warnings: tuple[Warning, ...] = ()):
        self._fill(instructions=instructions, directives=directives, escape=escape, warnings=warnings)

    def directive(self, name: str) -> str | None:
        for d in self.directives:
            if d.name == name:
                return d.value
        return None
