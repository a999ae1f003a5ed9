""".dockerignore and COPY --exclude patterns come from the Dockerfile's author. Matched by a
backtracking regex, `*a*a*a*a*a*a*b` against a context file named with 250 `a`s took
hours (4 stars: 30 s): a build stalled for ever before its first step. The matcher now
takes a bounded number of steps per character (counted, not timed); the builds here end
(the subprocess timeout is only a guard against the old hang), and give the same answers."""

from __future__ import annotations

import os
from unittest import mock

import pytest

from builder.context import dockerignore
from tests.conftest import cairn_cli

HOSTILE = "*a" * 12 + "*b"
NAME = "a" * 250


def test_matching_takes_steps_linear_in_the_path(monkeypatch):
    step = mock.Mock(side_effect=dockerignore.Matcher.step)
    monkeypatch.setattr(dockerignore.Matcher, "step", lambda self, states, ch: step(self, states, ch))
    monkeypatch.setattr(dockerignore, "_SETS_KEPT", 4)  # most moves worked out afresh: still linear
    for pattern in (HOSTILE, "**/" + HOSTILE, "**" + HOSTILE + "**", "?*?*?*?*?*?*?*b"):
        for path in (NAME, "d/" * 100 + NAME, "a/" * 2000):
            step.reset_mock()
            assert not dockerignore.is_ignored(path, dockerignore.parse_dockerignore(pattern))
            assert step.call_count <= len(path) + 1, (pattern, path[:20], step.call_count)


@pytest.mark.parametrize("pattern,path,ignored", [
    ("*.md", "README.md", True), ("*.md", "docs/README.md", False), ("**/*.md", "docs/a/README.md", True),
    ("**/*.md", "README.md", True), ("docs", "docs/a/b", True), ("docs/**", "docs", False),
    ("docs/**", "docs/x", True), ("**", "anything/at/all", True), ("a?c", "abc", True), ("a?c", "a/c", False),
    ("[a-c]x", "bx", True), ("[^a-c]x", "bx", False), ("[!a-c]x", "dx", True), ("x\\*", "x*", True),
    ("x\\*", "xy", False), ("**" + HOSTILE, "q/" + NAME + "b", True), (HOSTILE, "a" * 30 + "b", True),
    ("a**b", "a/x/y/b", True), ("a*b", "a/b", False),
])
def test_patterns_keep_dockers_meaning(pattern, path, ignored):
    assert dockerignore.is_ignored(path, dockerignore.parse_dockerignore(pattern)) is ignored


def test_a_malformed_class_is_a_clear_error():
    with pytest.raises(dockerignore.DockerignoreError, match=r"\.dockerignore:2: invalid pattern"):
        dockerignore.parse_dockerignore("ok\n[z-a]\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")
@pytest.mark.parametrize("where", ["dockerignore", "exclude", "exclude-from"])
def test_a_hostile_pattern_does_not_stall_the_build(tmp_path, where):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / NAME).write_text("x")
    (ctx / "keep").write_text("k")
    copy = {"dockerignore": "COPY . /c/\n", "exclude": f"COPY --exclude={HOSTILE} . /c/\n",
            "exclude-from": f"FROM scratch AS s\nCOPY . /\nFROM scratch\nCOPY --from=s --exclude={HOSTILE} / /c/\n"}
    (ctx / "Dockerfile").write_text("FROM scratch\n" + copy[where])
    if where == "dockerignore":
        (ctx / ".dockerignore").write_text(HOSTILE + "\n")
    out = tmp_path / "out"
    res = cairn_cli("build", "-o", f"type=local,dest={out}", str(ctx), root=tmp_path / "store")  # (300 s guard)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (out / "c" / "keep").exists() and (out / "c" / NAME).exists()  # the pattern (ends in b) matches neither
