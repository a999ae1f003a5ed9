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


def test_pattern_matching_takes_steps_linear_in_the_value(monkeypatch):
    """`${V/*a*a*a*b/x}` on a run of `a`s backtracked exponentially in the stars (a regex);
    the matcher now takes a bounded number of steps per character, counted, not timed."""
    from grammar import glob

    steps = 0
    real_step = glob.Glob.step

    def counting(self, s, ch):
        nonlocal steps
        steps += 1
        return real_step(self, s, ch)

    monkeypatch.setattr(glob.Glob, "step", counting)
    value = "a" * 5000
    for word in ("${V/*a*a*a*a*a*b/x}", "${V//?*?*?*b/x}", "${V##*a*a*a*b}", "${V%%*a*a*a*b}", "${V//a/b}"):
        steps = 0
        expand_word(word, {"V": value})
        assert steps <= 3 * len(value) + 10, (word, steps)


def _reference(pattern: str, value: str, op: str) -> str:
    """What the regex implementation gave (small inputs only: it backtracks)."""
    import re

    def regex(greedy: bool, anchored: bool, pat: str) -> re.Pattern:
        out, i = ["^"] if anchored else [], 0
        while i < len(pat):
            tok, i = pat[i], i + 1
            if tok == "*":
                out.append(".*" if greedy else ".*?")
            elif tok == "?":
                out.append(".")
            elif tok == "\\":
                out.append(re.escape(pat[i]))
                i += 1
            else:
                out.append(re.escape(tok))
        return re.compile("".join(out), re.DOTALL)

    if op in ("#", "##"):
        m = regex(op == "##", True, pattern).search(value)
        return value[m.end():] if m else value
    if op in ("%", "%%"):
        parts = re.findall(r"\\.|.", pattern, re.DOTALL)  # reversed with each escape kept whole
        m = regex(op == "%%", True, "".join(reversed(parts))).search(value[::-1])
        return value[:len(value) - m.end()] if m else value
    r = regex(True, False, pattern)
    if op == "//":
        return r.sub(lambda _m: "R", value)
    m = r.search(value)
    return value[:m.start()] + "R" + value[m.end():] if m else value


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "*", "?", "\\*", "\\?", "\\\\"]), min_size=1, max_size=6).map("".join),
       st.text("ab*?\\\n", max_size=10), st.sampled_from(["#", "##", "%", "%%", "/", "//"]))
def test_the_linear_matcher_agrees_with_the_regex_it_replaced(pattern, value, op):
    word = "${V" + op + pattern + ("/R}" if op.startswith("/") else "}")
    assert expand_word(word, {"V": value}) == _reference(pattern, value, op)
