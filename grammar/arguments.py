"""Reads an instruction's argument text into its argument list, per keyword.

These are BuildKit's line parsers, rule for rule, because users move Dockerfiles
between builders and every quirk is somebody's working file:
- exec form: a JSON array of strings; invalid JSON falls back to shell form, but a JSON
  array holding anything other than strings is an error;
- ENV and LABEL: `k=v` words (quotes kept, to be expanded later) or the legacy `K V`;
- ARG: `name` or `name=value` words;
- FROM and EXPOSE: whitespace-separated words;
- HEALTHCHECK: a type word (CMD, NONE), then a command in either form.
ONBUILD is handled by grammar.parser, since it nests a whole instruction.
"""

from __future__ import annotations

import json
import re
from typing import Callable

from .ast import Value
from .errors import DockerfileError
from .gostr import GO_SPACE, is_space

_SPLIT = re.compile(r"[\t\v\f\r ]+")
_NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SPACES = re.compile("[%s]+" % GO_SPACE)


class Arguments(Value):
    __slots__ = ("values", "json")

    def __init__(self, values: tuple[str, ...] = (), json: bool = False):
        self._fill(values=values, json=json)


class _NotJSON(Exception):
    pass


def _reject_constant(name: str):
    raise ValueError(name)  # NaN/Infinity are not JSON to Go


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _parse_json(rest: str) -> Arguments:
    text = rest.lstrip(GO_SPACE)
    if not text.startswith("["):
        raise _NotJSON()
    try:
        value, end = _DECODER.raw_decode(text)
    except (ValueError, RecursionError):
        raise _NotJSON() from None
    if text[end:].strip(" \t\r\n"):
        raise _NotJSON()  # trailing data after the array
    if not isinstance(value, list):
        raise _NotJSON()
    if not all(isinstance(v, str) for v in value):
        raise DockerfileError(_NOT_STRING_ARRAY)
    # Go decodes a lone surrogate escape to U+FFFD.
    return Arguments(tuple(_SURROGATE.sub("\ufffd", v) for v in value), True)


def maybe_json(rest: str, escape: str) -> Arguments:
    """CMD, ENTRYPOINT, RUN, SHELL: a JSON array, else the whole text as one argument."""
    if not rest:
        return Arguments()
    try:
        return _parse_json(rest)
    except _NotJSON:
        return Arguments((rest,))


def maybe_json_to_list(rest: str, escape: str) -> Arguments:
    """ADD, COPY, VOLUME: a JSON array, else whitespace-separated words."""
    try:
        return _parse_json(rest)
    except _NotJSON:
        return whitespace_words(rest, escape)


def whitespace_words(rest: str, escape: str) -> Arguments:
    if not rest:
        return Arguments()
    return Arguments(tuple(_SPLIT.split(rest)))


def single_string(rest: str, escape: str) -> Arguments:
    return Arguments((rest,)) if rest else Arguments()


def quoted_words(rest: str, escape: str) -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes in the words."""
    if escape not in rest and "'" not in rest and '"' not in rest:
        return _SPACES.split(rest.strip(GO_SPACE)) if rest.strip(GO_SPACE) else []
    words: list[str] = []
    buf: list[str] = []
    in_word = False
    quote = ""
    blank_ok = False
    i, n = 0, len(rest)
    while i < n:
        ch = rest[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if i + 1 == n:
                    break
                buf.append(ch)
                i += 1
                ch = rest[i]
            buf.append(ch)
        elif is_space(ch):
            if in_word:
                if blank_ok or buf:
                    words.append("".join(buf))
                buf = []
                blank_ok = False
                in_word = False
        else:
            in_word = True
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
            if ch == escape:
                if i + 1 == n:
                    break
                buf.append(ch)
                i += 1
                ch = rest[i]
            buf.append(ch)
        i += 1
    if in_word and (blank_ok or buf):
        words.append("".join(buf))
    return words


def _name_value(rest: str, escape: str, keyword: str) -> Arguments:
    words = quoted_words(rest, escape)
    if not words:
        return Arguments()
    if "=" not in words[0]:
        parts = _SPLIT.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise DockerfileError(f"{keyword} must have two arguments")
        return Arguments((parts[0], parts[1], ""))
    values: list[str] = []
    for word in words:
        if "=" not in word:
            raise DockerfileError(
                f"Syntax error - can't find = in {_go_q(word)}. Must be of the form: name=value"
            )
        key, value = word.split("=", 1)
        values += (key, value, "=")
    return Arguments(tuple(values))


def _go_q(text: str) -> str:
    from .gostr import go_quote

    return go_quote(text)


def env(rest: str, escape: str) -> Arguments:
    return _name_value(rest, escape, "ENV")


def label(rest: str, escape: str) -> Arguments:
    return _name_value(rest, escape, "LABEL")


def name_or_name_value(rest: str, escape: str) -> Arguments:
    return Arguments(tuple(quoted_words(rest, escape)))


def health_config(rest: str, escape: str) -> Arguments:
    sep = 0
    while sep < len(rest) and not is_space(rest[sep]):
        sep += 1
    if sep == 0:
        return Arguments()
    nxt = sep
    while nxt < len(rest) and is_space(rest[nxt]):
        nxt += 1
    cmd = maybe_json(rest[nxt:], escape)
    return Arguments((rest[:sep],) + cmd.values, cmd.json)


def ignore(rest: str, escape: str) -> Arguments:
    """An unknown instruction keeps one empty argument, as BuildKit's AST does."""
    return Arguments(("",))


LINE_PARSERS: dict[str, Callable[[str, str], Arguments]] = {
    "add": maybe_json_to_list,
    "arg": name_or_name_value,
    "cmd": maybe_json,
    "copy": maybe_json_to_list,
    "entrypoint": maybe_json,
    "env": env,
    "expose": whitespace_words,
    "from": whitespace_words,
    "healthcheck": health_config,
    "label": label,
    "maintainer": single_string,
    "run": maybe_json,
    "shell": maybe_json,
    "stopsignal": single_string,
    "user": single_string,
    "volume": maybe_json_to_list,
    "workdir": single_string,
}
