"""Build planning: ARG scoping, stage bases and dependencies, targets, cycles."""

from __future__ import annotations

import pytest

from builder.args import GlobalScope, StageScope, parse_build_args, unused_build_args
from builder.errors import CairnError, UsageError
from builder.instructions import parse_dockerfile
from builder.instructions import types as t
from builder.instructions.errors import InstructionError
from builder.plan import BaseRef, plan_build
from grammar import parse


def plan(text: str, build_args=None, target=None):
    g = GlobalScope(dict(build_args or {}))
    return plan_build(parse_dockerfile(parse(text)), g, target), g


def test_global_args_expand_from_and_build_args_override():
    p, g = plan("ARG BASE=alpine\nARG TAG=3\nFROM ${BASE}:${TAG}\n", {"TAG": "edge"})
    assert p.stages[0].base == BaseRef(image="alpine:edge")
    assert unused_build_args(g) == []


def test_unused_build_args_are_reported_but_proxy_args_are_not():
    _, g = plan("FROM scratch\n", {"NOPE": "1", "HTTP_PROXY": "http://p"})
    assert unused_build_args(g) == ["NOPE"]


def test_platform_args_are_available_to_from():
    p, _ = plan("FROM img-$TARGETARCH\n")
    assert p.stages[0].base.image.startswith("img-") and p.stages[0].base.image != "img-"


def test_only_needed_stages_in_dependency_order_with_parallel_levels():
    text = ("FROM busybox AS base\nFROM base AS a\nFROM base AS b\nFROM scratch AS unused\n"
            "FROM busybox\nCOPY --from=a /x /x\nCOPY --from=b /y /y\nCOPY --from=nginx /z /z\n"
            "RUN --mount=type=bind,from=unused,target=/u true\n")
    p, _ = plan(text)
    assert [s.index for s in p.stages] == [0, 1, 2, 3, 4]
    assert p.levels == ((0, 3), (1, 2), (4,))
    assert p.stages[-1].deps == frozenset({1, 2, 3})
    assert p.stages[1].base == BaseRef(stage=0)


def test_target_selects_a_subgraph():
    p, _ = plan("FROM busybox AS a\nFROM a AS b\nFROM busybox AS c\n", target="B")
    assert [s.index for s in p.stages] == [0, 1] and p.target == 1
    with pytest.raises(CairnError, match='target stage "nope" could not be found'):
        plan("FROM busybox AS a\n", target="nope")


def test_copy_from_index_and_from_arg():
    p, _ = plan("FROM busybox\nFROM busybox\nARG SRC=0\nCOPY --from=0 /a /a\n")
    assert p.stages[-1].deps == frozenset({0})
    p, _ = plan("ARG SRC=first\nFROM busybox AS first\nFROM busybox\nCOPY --from=$SRC /a /a\n")
    assert p.stages[-1].deps == frozenset({0})


def test_stage_cannot_start_from_a_later_stage_and_cycles_are_errors():
    with pytest.raises(InstructionError, match="earlier one"):
        plan("FROM later AS first\nFROM busybox AS later\n")
    with pytest.raises(InstructionError, match="circular dependency"):
        plan("FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n")


def test_stage_scope_rules():
    g = GlobalScope({"FROMCLI": "cli"})
    for decl in (t.ArgDecl("GLOBAL", "g"), t.ArgDecl("FROMCLI", "default")):
        g.declare(decl)
    s = StageScope(g, {"PATH": "/bin"})
    assert "GLOBAL" not in s.expansion_env()  # globals need redeclaring inside a stage
    s.declare(t.ArgDecl("GLOBAL"))
    s.declare(t.ArgDecl("FROMCLI"))
    s.declare(t.ArgDecl("LOCAL", "x-$GLOBAL"))
    s.declare(t.ArgDecl("EMPTY"))
    env = s.expansion_env()
    assert env["GLOBAL"] == "g" and env["FROMCLI"] == "cli" and env["LOCAL"] == "x-g" and "EMPTY" not in env
    s.set_env("LOCAL", "from-env")
    assert s.expand("$LOCAL") == "from-env"  # ENV wins over ARG
    assert "PATH=/bin" in s.run_env() and "LOCAL=from-env" in s.run_env()


def test_parse_build_args(monkeypatch):
    monkeypatch.setenv("FROM_ENV", "e")
    assert parse_build_args(["A=1", "B=", "C=x=y", "FROM_ENV", "NOT_SET"]) == \
        {"A": "1", "B": "", "C": "x=y", "FROM_ENV": "e"}
    with pytest.raises(UsageError):
        parse_build_args(["=1"])
