"""Build arguments and their scopes, as the Dockerfile reference defines them.

- Global ARGs (before the first FROM) can be used only in FROM lines; a stage sees one only
  after redeclaring it (`ARG NAME`), and then gets its global value.
- `--build-arg` overrides the value of an ARG wherever it is declared; the proxy ARGs
  work without a declaration; the platform ARGs are set for the global scope and must be
  declared in a stage to be seen there.
- In a stage, ENV wins over ARG for expansion; RUN sees both as its environment, but
  only ENV goes into the image.
- A build arg that no ARG (and no predefined name) consumes is reported back to the user.
"""

from __future__ import annotations

from collections.abc import Mapping

import grammar

from .image.config import host_platform
from .image.envlist import DEFAULT_PATH
from .instructions import types as t

PROXY_ARGS = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"})


def platform_args(target: dict | None = None) -> dict[str, str]:
    """The automatic platform ARGs: TARGET* for `target` (--platform; the host's by default),
    BUILD* for the host."""
    from . import platforms

    return platforms.args(target or host_platform(), host_platform())


def parse_build_args(items: list[str]) -> dict[str, str]:
    """`--build-arg K=V` (or `K`, taking K from the environment, as docker does)."""
    import os

    from .errors import UsageError

    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key or any(c.isspace() for c in key):
            raise UsageError(f"invalid --build-arg {item!r}: expected NAME=VALUE")
        if not eq:
            if key not in os.environ:
                continue
            value = os.environ[key]
        out[key] = value
    return out


class GlobalScope:
    """The meta ARGs (before the first FROM), with --build-arg applied; used for FROM lines.
    (A plain class: a dataclass costs every build ~1.3 ms to define.)"""

    def __init__(self, build_args: dict[str, str], escape: str = "\\", values: dict[str, str] | None = None,
                 consumed: set[str] | None = None, target: dict | None = None):
        self.build_args = build_args
        self.escape = escape
        self.values = {} if values is None else values
        self.consumed = set() if consumed is None else consumed
        self.target = target  # --platform (None: the host's)
        self.values.update(platform_args(self.target))

    def set_target_stage(self, name: str) -> None:
        """TARGETSTAGE: the target stage's name, `default` for an unnamed one (predefined,
        so a stage sees it after `ARG TARGETSTAGE`)."""
        self.values["TARGETSTAGE"] = name or "default"

    def declare(self, decl: t.ArgDecl) -> None:
        if decl.name in self.build_args:
            self.values[decl.name] = self.build_args[decl.name]
            self.consumed.add(decl.name)
        elif decl.default is not None:
            self.values[decl.name] = grammar.expand_word(decl.default, self.values, self.escape)
        # declared without a value and not given: it stays unset (or keeps a predefined value)

    def expand(self, word: str) -> str:
        return grammar.expand_word(word, self.values, self.escape)


class StageScope:
    """ARGs declared in one stage, and the stage's ENV (from its base image and ENV lines)."""

    def __init__(self, globals: GlobalScope, env: dict[str, str], args: dict[str, str | None] | None = None):
        self.globals = globals
        self.env = env
        self.args = {} if args is None else args  # declared; None = no value

    def declare(self, decl: t.ArgDecl) -> None:
        g = self.globals
        if decl.name in g.build_args:
            value: str | None = g.build_args[decl.name]
            g.consumed.add(decl.name)
        elif decl.default is not None:
            value = grammar.expand_word(decl.default, _Lookup(self), g.escape)
        elif decl.name in g.values:
            value = g.values[decl.name]
        else:
            value = None
        self.args[decl.name] = value

    def set_env(self, key: str, value: str) -> None:
        self.env[key] = value

    def expansion_env(self, proxies: bool = True) -> dict[str, str]:
        """What $VAR means in this stage now: declared ARGs, overridden by ENV; the proxy
        build args too, undeclared (`proxies=False` leaves those out)."""
        out = {k: v for k, v in self.args.items() if v is not None}
        if proxies:
            for key in PROXY_ARGS & self.globals.build_args.keys():
                out.setdefault(key, self.globals.build_args[key])
        out.update(self.env)
        return out

    def expand(self, word: str) -> str:
        return grammar.expand_word(word, _Lookup(self), self.globals.escape)

    def expand_words(self, word: str) -> list[str]:
        return grammar.expand_words(word, _Lookup(self), self.globals.escape)

    def expand_heredoc(self, body: str) -> str:
        return grammar.expand_heredoc(body, _Lookup(self), self.globals.escape)

    def run_env(self, home: str | None = None, proxies: bool = True) -> list[str]:
        """RUN's environment: the image ENV plus ARGs in scope (ENV wins), as KEY=VALUE,
        with the default PATH when the image sets none, and HOME (the user's home, as runc
        gives BuildKit's RUN) when neither sets it. The undeclared proxy build args are in
        it; `proxies=False` leaves them out, for the cache key (as BuildKit does: a changed
        proxy reuses the step)."""
        merged = self.expansion_env(proxies)
        merged.setdefault("PATH", DEFAULT_PATH)
        if home is not None:
            merged.setdefault("HOME", home)
        return [f"{k}={v}" for k, v in merged.items()]


class _Lookup(Mapping):
    """`expansion_env()` read in place, for expanding one word: no copy of every ARG per word
    (a stage of N ARGs would cost N^2)."""

    def __init__(self, scope: StageScope):
        self.scope = scope

    def __getitem__(self, key: str) -> str:
        s = self.scope
        if key in s.env:
            return s.env[key]
        value = s.args.get(key)
        if value is not None:
            return value
        if key in PROXY_ARGS and key in s.globals.build_args:
            return s.globals.build_args[key]
        raise KeyError(key)

    def __iter__(self):
        return iter(self.scope.expansion_env())

    def __len__(self) -> int:
        return len(self.scope.expansion_env())


def unused_build_args(g: GlobalScope) -> list[str]:
    return sorted(k for k in g.build_args if k not in g.consumed and k not in PROXY_ARGS)
