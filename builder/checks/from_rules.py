"""Checks of the file as a whole and of each FROM line: instruction and keyword casing,
stage names, empty continuation lines, and the ARGs and --platform a FROM uses."""

from __future__ import annotations

import grammar

from ..image.reference import ReferenceError, parse_reference
from . import rules as r
from .rules import Finding
from .words import Hints, undefined

RESERVED_STAGE_NAMES = ("scratch", "context")


def _upper(word: str) -> bool:
    return word == word.upper()


def _lower(word: str) -> bool:
    return word == word.lower()


def instruction_casing(nodes) -> list[Finding]:
    keywords = [n.keyword for n in nodes if n.keyword]
    lower = sum(1 for k in keywords if _lower(k))
    upper = sum(1 for k in keywords if _upper(k))
    majority = "lowercase" if lower > upper else "uppercase"
    same = _lower if lower > upper else _upper
    return [Finding(r.CONSISTENT_INSTRUCTION_CASING, n.start_line,
                    f"Command '{n.keyword}' should match the case of the command majority ({majority})")
            for n in nodes if n.keyword and not same(n.keyword)]


def empty_continuations(tree: grammar.Dockerfile) -> list[Finding]:
    return [Finding(r.NO_EMPTY_CONTINUATION, w.line, "Empty continuation line")
            for w in tree.warnings if w.message.startswith("Empty continuation line")]


def stage_names(froms) -> list[Finding]:
    """`froms`: (FROM node, name as written) in order."""
    out: list[Finding] = []
    seen: set[str] = set()
    for node, name in froms:
        keyword = node.keyword
        if len(node.args) == 3:
            as_word = node.args[1]
            if (_upper(keyword) and not _upper(as_word)) or (_lower(keyword) and not _lower(as_word)):
                out.append(Finding(r.FROM_AS_CASING, node.start_line,
                                   f"'{as_word}' and '{keyword}' keywords' casing do not match"))
        if not name:
            continue
        if name != name.lower():
            out.append(Finding(r.STAGE_NAME_CASING, node.start_line, f"Stage name '{name}' should be lowercase"))
        if name.lower() in RESERVED_STAGE_NAMES:
            out.append(Finding(r.RESERVED_STAGE_NAME, node.start_line,
                               f'Stage name should not use the same name as reserved stage "{name.lower()}"'))
        if name.lower() in seen:
            out.append(Finding(r.DUPLICATE_STAGE_NAME, node.start_line,
                               f'Duplicate stage name "{name.lower()}", stage names should be unique'))
        seen.add(name.lower())
    return out


def from_words(node, base: str, platform: str, name: str, known: dict, defaults: dict,
               stage_names_seen, escape: str, hint: Hints) -> list[Finding]:
    """The ARGs a FROM line uses (`declared`: the global ARGs; `defaults`: their values without
    --build-arg), and its --platform. `known`: the global ARGs, then the predefined ones."""
    out: list[Finding] = []
    for word in (platform, base):
        for missing in undefined(word, known, escape):
            suggestion = hint(missing, known)
            detail = f"FROM argument '{missing}' is not declared"
            out.append(Finding(r.UNDEFINED_ARG_IN_FROM, node.start_line,
                               detail + (f" (did you mean {suggestion}?)" if suggestion else "")))
    if "$" in base:
        try:
            value = grammar.expand_word(base, defaults, escape)
        except grammar.ShellWordError:
            value = None
        if value is not None and not _valid_base(value, stage_names_seen):
            out.append(Finding(r.INVALID_DEFAULT_ARG_IN_FROM, node.start_line,
                               f"Default value for ARG {base} results in empty or invalid base image name"))
    if platform in ("$TARGETPLATFORM", "${TARGETPLATFORM}"):
        out.append(Finding(r.REDUNDANT_TARGET_PLATFORM, node.start_line,
                           f"Setting platform to predefined {platform} in FROM is redundant as this is the "
                           "default behavior"))
    elif platform and "$" not in platform:
        parts = [p for p in platform.lower().split("/") if p]
        if not any(p in name.lower() for p in parts[:2]):
            out.append(Finding(r.FROM_PLATFORM_FLAG_CONST_DISALLOWED, node.start_line,
                               f'FROM --platform flag should not use constant value "{platform}"'))
    return out


def _valid_base(value: str, stage_names_seen) -> bool:
    if not value:
        return False
    if value == "scratch" or value.lower() in stage_names_seen:
        return True
    try:
        parse_reference(value)
    except ReferenceError:
        return False
    return True


def definition_descriptions(nodes) -> list[Finding]:
    """A comment right above `ARG` or `FROM ... AS name` describes it (outline shows it): it
    should start with the name (any of the keys of an ARG that declares several)."""
    out: list[Finding] = []
    for node in nodes:
        if not node.comments:
            continue
        first = node.comments[0].split(" ", 1)[0]
        if node.name == "from" and len(node.args) == 3:
            name = node.args[2].lower()
            if first != name:
                out.append(Finding(r.INVALID_DEFINITION_DESCRIPTION, node.start_line,
                                   f"Comment for FROM should follow the format: `# {name} <description>`"))
        elif node.name == "arg" and node.args:
            keys = [a.split("=", 1)[0] for a in node.args]
            if first not in keys:
                shown = keys[0] if len(keys) == 1 else "<arg_key>"
                out.append(Finding(r.INVALID_DEFINITION_DESCRIPTION, node.start_line,
                                   f"Comment for ARG should follow the format: `# {shown} <description>`"))
    return out
