"""Word expansion against a hostile Dockerfile: deep nesting is a clean Dockerfile error.

(That expansion stays linear in the size of a word is measured by benchmarks/expand.py,
not here: tests carry no timed assertions.)
"""

from __future__ import annotations

import pytest

from grammar import ShellWordError, expand_word
from tests.conftest import cairn_cli


def _nested(depth: int) -> str:
    return "${A:-" * depth + "v" + "}" * depth


def test_5000_nested_defaults_are_a_dockerfile_error_not_an_internal_one(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM scratch\nARG A\nLABEL x={_nested(5000)}\n")
    res = cairn_cli("build", str(ctx), root=tmp_path / "store")
    err = res.stderr.decode()
    assert res.returncode == 2, err[-2000:]
    assert "internal error" not in err and "Traceback" not in err
    assert "Dockerfile:3:" in err and "nested more than" in err


@pytest.mark.parametrize("opening", ["${A:-", '"${A:-', "${A/x/", "${A:+${A#"])
def test_any_kind_of_deep_nesting_is_refused_cleanly(opening):
    with pytest.raises(ShellWordError, match="nested more than"):
        expand_word(opening * 3000, {"A": "x"})


def test_nesting_real_dockerfiles_use_still_expands():
    assert expand_word(_nested(50), {}) == "v"
    assert expand_word(_nested(8), {"A": "set"}) == "set"


def test_the_error_for_a_huge_word_does_not_repeat_the_whole_word():
    with pytest.raises(ShellWordError) as caught:
        expand_word("x" * 1_000_000 + "${", {})
    assert len(str(caught.value)) < 1000
