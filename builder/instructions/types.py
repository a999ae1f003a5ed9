"""Typed, validated Dockerfile instructions: frozen values the planner works from.

Each command keeps its words unexpanded (ARG and ENV are applied at build time, in
scope order) and its line span, so any later error can still point at the Dockerfile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from grammar import Heredoc


@dataclass(frozen=True)
class Command:
    keyword: str  # upper case: RUN, COPY, ...
    original: str = field(default="", compare=False)
    start_line: int = field(default=0, compare=False)
    end_line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    legacy: bool = False  # `ENV k v` rather than `ENV k=v`


@dataclass(frozen=True)
class ArgDecl:
    name: str
    default: str | None = None


@dataclass(frozen=True)
class Env(Command):
    pairs: tuple[KeyValue, ...] = ()


@dataclass(frozen=True)
class Label(Command):
    pairs: tuple[KeyValue, ...] = ()


@dataclass(frozen=True)
class Arg(Command):
    args: tuple[ArgDecl, ...] = ()


@dataclass(frozen=True)
class Maintainer(Command):
    name: str = ""


@dataclass(frozen=True)
class Expose(Command):
    ports: tuple[str, ...] = ()


@dataclass(frozen=True)
class Volume(Command):
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class User(Command):
    user: str = ""


@dataclass(frozen=True)
class Workdir(Command):
    path: str = ""


@dataclass(frozen=True)
class StopSignal(Command):
    signal: str = ""


@dataclass(frozen=True)
class Shell(Command):
    shell: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cmd(Command):
    command: tuple[str, ...] = ()
    shell_form: bool = False  # True: run through SHELL


@dataclass(frozen=True)
class Entrypoint(Command):
    command: tuple[str, ...] = ()
    shell_form: bool = False


@dataclass(frozen=True)
class Mount:
    """One `RUN --mount=...`; `raw` is the flag text, kept for the cache key."""

    raw: str
    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""
    readonly: bool = True
    id: str = ""
    sharing: str = ""
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    size: int | None = None
    env: str | None = None


@dataclass(frozen=True)
class Run(Command):
    command: tuple[str, ...] = ()
    shell_form: bool = False
    files: tuple[Heredoc, ...] = ()  # heredoc bodies; with shell form the first may be the script
    mounts: tuple[Mount, ...] = ()
    network: str = "default"
    security: str = "sandbox"


@dataclass(frozen=True)
class Healthcheck(Command):
    """`test` as in the image config: ("NONE",), ("CMD", ...) or ("CMD-SHELL", cmd)."""

    test: tuple[str, ...] = ()
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    start_interval_ns: int = 0
    retries: int = 0


@dataclass(frozen=True)
class SourceContent:
    """An inline COPY/ADD source from a heredoc: `COPY <<EOF /dest`."""

    path: str
    data: str
    expand: bool


@dataclass(frozen=True)
class Copy(Command):
    sources: tuple[str, ...] = ()
    contents: tuple[SourceContent, ...] = ()
    dest: str = ""
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    parents: bool = False
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Add(Command):
    sources: tuple[str, ...] = ()
    contents: tuple[SourceContent, ...] = ()
    dest: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    keep_git_dir: bool = False
    checksum: str = ""
    excludes: tuple[str, ...] = ()
    unpack: bool | None = None
    user_agent: str = ""  # ADD --user-agent, for URL sources


@dataclass(frozen=True)
class Onbuild(Command):
    expression: str = ""  # the trigger's text, run when an image built from this is used
    trigger: Command | None = None


@dataclass(frozen=True)
class Stage:
    """`FROM base [AS name]` and the commands up to the next FROM."""

    base_name: str
    name: str = ""  # lower case; "" when unnamed
    index: int = 0
    platform: str = ""
    commands: tuple[Command, ...] = ()
    original: str = field(default="", compare=False)
    start_line: int = field(default=0, compare=False)
    end_line: int = field(default=0, compare=False)
    comment: str = field(default="", compare=False)


@dataclass(frozen=True)
class DockerfilePlan:
    """The whole file: ARGs before the first FROM, then the stages in order."""

    meta_args: tuple[Arg, ...]
    stages: tuple[Stage, ...]
    escape: str = "\\"

    @cached_property
    def stage_names(self) -> dict[str, int]:
        """Stage name -> index (looked up once per reference: a file may hold many stages)."""
        return {st.name: st.index for st in self.stages if st.name}

    def stage(self, name_or_index: str) -> Stage | None:
        index = self.stage_names.get(name_or_index.lower())
        if index is not None:
            return self.stages[index]
        if name_or_index.isdecimal() and int(name_or_index) < len(self.stages):
            return self.stages[int(name_or_index)]
        return None
