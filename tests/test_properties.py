"""Property tests: parse never fails but with DockerfileError, and the dump is a fixed point."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.instructions import parse_dockerfile
from grammar import DockerfileError, dump, dump_instruction, expand_word, expand_words, parse, read_dump

KEYWORDS = ["FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
            "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
            "HEALTHCHECK", "SHELL", "run", "Copy", "BOGUS"]
PIECES = ["\\", "`", "\n", "\r\n", " ", "\t", "#", "# escape=`\n", "# syntax=x\n", "--", "--from=a",
          "--mount=type=cache,target=/x", "[", "]", '"', "'", ",", "=", "<<", "<<-", "EOF", "\tEOF",
          "$", "${", "}", "\\\n", "`\n", "AS", "NONE", "CMD", "\u00a0", "é", "\x00", "\ufeff"]

fragments = st.one_of(st.sampled_from(KEYWORDS), st.sampled_from(PIECES), st.text(max_size=6))
dockerfile_text = st.lists(fragments, max_size=40).map("".join)
lines_text = st.lists(
    st.tuples(st.sampled_from(KEYWORDS), st.lists(fragments, max_size=8).map("".join)).map(" ".join),
    min_size=1, max_size=12,
).map("\n".join)

# HYPOTHESIS_PROFILE=deep (see conftest) runs many more examples than CI's default.
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_or_error(text):
    try:
        return parse(text)
    except DockerfileError as err:
        assert err.start_line >= 1
        return None


@SETTINGS
@given(st.one_of(dockerfile_text, lines_text, st.text()))
def test_parse_returns_tree_or_dockerfile_error(text):
    tree = _parse_or_error(text)
    if tree is not None:
        try:
            parse_dockerfile(tree)
        except DockerfileError as err:
            assert err.start_line >= 1


@SETTINGS
@given(st.one_of(dockerfile_text, lines_text))
def test_dump_read_back_and_dumped_again_is_identical(text):
    tree = _parse_or_error(text)
    if tree is None:
        return
    first = dump(tree)
    again = read_dump(first)
    assert "".join("(" + dump_instruction(node) + ")\n" for node in again) == first
    assert [n.name for n in again] == [n.name for n in tree.instructions]
    assert [n.args for n in again] == [n.args for n in tree.instructions]
    assert [n.flags for n in again] == [n.flags for n in tree.instructions]


@SETTINGS
@given(st.text(max_size=30), st.dictionaries(st.sampled_from(["a", "B", "x1", "_"]), st.text(max_size=5)))
def test_expansion_fails_only_with_shell_word_error(word, env):
    from grammar import ShellWordError

    for fn in (expand_word, expand_words):
        for esc in ("\\", "`"):
            try:
                fn(word, env, escape=esc)
            except ShellWordError:
                pass


line_text = st.lists(st.one_of(st.sampled_from(PIECES + KEYWORDS + ["--x", "-- ", " --", "\u3000", "\x0b"]),
                               st.text(max_size=4)), min_size=1, max_size=12).map("".join)


@SETTINGS
@given(line_text)
def test_line_split_shortcut_agrees_with_the_grammar(text):
    from grammar.gostr import GO_SPACE
    from grammar.instruction_line import split_line, split_line_with_grammar

    line = text.replace("\n", " ").strip(GO_SPACE)
    if not line:
        return
    assert split_line(line) == split_line_with_grammar(line)
