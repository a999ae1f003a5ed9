"""Typed, validated Dockerfile instructions: frozen values the planner works from.

Each command keeps its words unexpanded (ARG and ENV are applied at build time, in
scope order) and its line span, so any later error can still point at the Dockerfile.
"""

from __future__ import annotations

from dataclasses import field
from functools import cached_property

from grammar import Heredoc
from runtime.record import Record, record


@record
class Command(Record):
    keyword: str  # upper case: RUN, COPY, ...
    original: str = field(default="", compare=False)
    start_line: int = field(default=0, compare=False)
    end_line: int = field(default=0, compare=False)


@record
class KeyValue(Record):
    key: str
    value: str
    legacy: bool = False  # `ENV k v` rather than `ENV k=v`


@record
class ArgDecl(Record):
    name: str
    default: str | None = None


@record
class Env(Command):
    pairs: tuple[KeyValue, ...] = ()


@record
class Label(Command):
    pairs: tuple[KeyValue, ...] = ()


@record
class Arg(Command):
    args: tuple[ArgDecl, ...] = ()


@record
class Maintainer(Command):
    name: str = ""


@record
class Expose(Command):
    ports: tuple[str, ...] = ()


@record
class Volume(Command):
    paths: tuple[str, ...] = ()


@record
class User(Command):
    user: str = ""


@record
class Workdir(Command):
    path: str = ""


@record
class StopSignal(Command):
    signal: str = ""


@record
class Shell(Command):
    shell: tuple[str, ...] = ()


@record
class Cmd(Command):
    command: tuple[str, ...] = ()
    shell_form: bool = False  # True: run through SHELL


@record
class Entrypoint(Command):
    command: tuple[str, ...] = ()
    shell_form: bool = False


@record
class Mount(Record):
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


@record
class Run(Command):
    command: tuple[str, ...] = ()
    shell_form: bool = False
    files: tuple[Heredoc, ...] = ()  # heredoc bodies; with shell form the first may be the script
    mounts: tuple[Mount, ...] = ()
    network: str = "default"
    security: str = "sandbox"


@record
class Healthcheck(Command):
    """`test` as in the image config: ("NONE",), ("CMD", ...) or ("CMD-SHELL", cmd)."""

    test: tuple[str, ...] = ()
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    start_interval_ns: int = 0
    retries: int = 0


@record
class SourceContent(Record):
    """An inline COPY/ADD source from a heredoc: `COPY <<EOF /dest`."""

    path: str
    data: str
    expand: bool


@record
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


@record
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


@record
class Onbuild(Command):
    expression: str = ""  # the trigger's text, run when an image built from this is used
    trigger: Command | None = None


@record
class Stage(Record):
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


@record
class DockerfilePlan(Record):
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
