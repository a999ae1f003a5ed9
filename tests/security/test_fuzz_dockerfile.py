"""Fuzz the Dockerfile front end: random Dockerfile-like text through grammar.parse, the
typed instructions (`cairn parse --validate`), build planning and the expansion of every
metadata instruction. Nothing but the project's own errors may escape."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import grammar
from builder.args import GlobalScope, StageScope
from builder.image import config as image_config
from builder.instructions import parse_dockerfile
from builder.instructions import types as t
from builder.plan import plan_build
from tests.security.fuzzing import OWN_ERRORS, fuzz_settings

KEYWORDS = ["FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
            "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER", "from", "Run"]
TOKENS = st.sampled_from([
    " ", "  ", "\t", "\n", "\\\n", "\\", "`", "'", '"', "$", "${", "}", "${A:-", "${A:+", "${A?", "${A#",
    "${A%%", "${A/", "${A//", "$A", "A", "=", "a=b", "--from=", "--mount=", "type=bind,source=", "type=cache,",
    "--chown=", "--chmod=", "--platform=", "--link", "--network=", "--interval=", "--start-period=", "AS ",
    "[", "]", '["a", "b"]', "[1, {}]", ",", "<<EOF", "<<-EOF", "EOF", "<<'X'", "X", "#", "# escape=`",
    "# syntax=x", "scratch", "busybox", "0", "-1", "999999999999999999999", "/", "..", "*", "?", "é", "\x00",
    "\u2028", "\r", "NONE", "CMD", "--", "--retries=",
])
LINE = st.tuples(st.sampled_from(KEYWORDS), st.lists(TOKENS | st.text(max_size=6), max_size=12)) \
    .map(lambda kv: kv[0] + " " + "".join(kv[1]))
DOCKERFILE = st.lists(LINE | st.lists(TOKENS, max_size=8).map("".join), min_size=1, max_size=12) \
    .map(lambda lines: "\n".join(lines) + "\n")


def _front_end(text: str) -> None:
    tree = grammar.parse(text)
    grammar.dump(tree)
    plan = parse_dockerfile(tree)
    g = GlobalScope({"A": "x y", "B": ""}, tree.escape)
    bp = plan_build(plan, g)
    for ps in bp.stages:
        scope = StageScope(g, {})
        doc: dict = {}
        for cmd in ps.stage.commands:
            if isinstance(cmd, t.Arg):
                for decl in cmd.args:
                    scope.declare(decl)
            elif not isinstance(cmd, (t.Run, t.Copy, t.Add, t.Onbuild)):
                try:
                    image_config.apply(doc, cmd, scope.expand)
                except grammar.DockerfileError as err:
                    raise err.at(cmd.start_line) if hasattr(cmd, "start_line") else err


@fuzz_settings(share=2)
@given(DOCKERFILE)
def test_fuzz_dockerfile_front_end(text):
    try:
        _front_end(text)
    except OWN_ERRORS:
        pass


@fuzz_settings(share=8)
@given(st.text(max_size=300))
def test_fuzz_dockerfile_from_any_text(text):
    try:
        _front_end("FROM scratch\n" + text)
    except OWN_ERRORS:
        pass
