"""Typed instructions: the values the planner will see."""

from __future__ import annotations

import pytest

from builder.instructions import parse_dockerfile
from builder.instructions import types as t
from builder.instructions.durations import parse_duration
from builder.instructions.errors import InstructionError
from builder.instructions.mounts import parse_mount
from grammar import parse


def plan(text: str) -> t.DockerfilePlan:
    return parse_dockerfile(parse(text))


def test_stages_meta_args_and_names():
    p = plan("ARG V=1\nARG W\n# builder compiles things\nFROM --platform=linux/amd64 img:$V AS Builder\n"
             "RUN make\nFROM scratch\nCOPY --from=builder /out /\n")
    assert [a.args for a in p.meta_args] == [(t.ArgDecl("V", "1"),), (t.ArgDecl("W", None),)]
    first, second = p.stages
    assert (first.base_name, first.name, first.platform, first.index) == ("img:$V", "builder", "linux/amd64", 0)
    assert first.comment == "compiles things"
    assert (first.start_line, first.end_line) == (4, 5)
    assert second.name == "" and second.index == 1
    assert p.stage("BUILDER") is first and p.stage("1") is second and p.stage("nope") is None
    assert second.commands[0].from_ == "builder"


def test_run_forms_mounts_and_heredoc_files():
    p = plan("FROM x\nRUN --mount=type=cache,target=/c,id=pip --mount=type=secret,id=tok --network=none <<EOF\n"
             "\techo hi\nEOF\nRUN [\"a\", \"b c\"]\n")
    shell, exec_ = p.stages[0].commands
    assert shell.shell_form and shell.command == ("<<EOF",)
    assert shell.files[0].content == "\techo hi\n"
    assert shell.network == "none"
    cache, secret = shell.mounts
    assert (cache.type, cache.target, cache.id, cache.sharing, cache.readonly) == ("cache", "/c", "pip", "shared", False)
    assert (secret.type, secret.id, secret.readonly) == ("secret", "tok", True)
    assert not exec_.shell_form and exec_.command == ("a", "b c")


def test_copy_heredoc_sources_are_chomped():
    p = plan("FROM x\nCOPY --chmod=0644 <<-EOT <<\"RAW\" /etc/\n\tkey=$V\n\tEOT\n$KEEP\nRAW\n")
    cp = p.stages[0].commands[0]
    assert cp.sources == () and cp.dest == "/etc/" and cp.chmod == "0644"
    assert cp.contents == (t.SourceContent("EOT", "key=$V\n", True), t.SourceContent("RAW", "$KEEP\n", False))


def test_add_flags():
    add = plan("FROM x\nADD --checksum=sha256:00 --keep-git-dir=true --exclude=*.md --exclude=docs "
               "--link https://h/a.git /src\n").stages[0].commands[0]
    assert (add.checksum, add.keep_git_dir, add.link, add.excludes, add.unpack) == (
        "sha256:00", True, True, ("*.md", "docs"), None)


def test_env_label_keep_raw_words():
    env, label = plan('FROM x\nENV A="1 2" B=$A\nLABEL legacy value here\n').stages[0].commands
    assert env.pairs == (t.KeyValue("A", '"1 2"'), t.KeyValue("B", "$A"))
    assert label.pairs == (t.KeyValue("legacy", "value here", legacy=True),)


def test_healthcheck_values():
    hc = plan("FROM x\nHEALTHCHECK --interval=1m30s --timeout=500ms --retries=2 CMD curl -f x\n").stages[0].commands[0]
    assert hc.test == ("CMD-SHELL", "curl -f x")
    assert (hc.interval_ns, hc.timeout_ns, hc.retries) == (90 * 10**9, 500 * 10**6, 2)
    none = plan("FROM x\nHEALTHCHECK none\n").stages[0].commands[0]
    assert none.test == ("NONE",)


def test_onbuild_keeps_expression_and_trigger():
    ob = plan("FROM x\nONBUILD COPY --chown=1 . /app\n").stages[0].commands[0]
    assert ob.expression == "COPY --chown=1 . /app"
    assert isinstance(ob.trigger, t.Copy) and ob.trigger.chown == "1"


def test_errors_carry_lines_of_continued_instruction():
    with pytest.raises(InstructionError) as info:
        plan("FROM x\nCOPY \\\n  onlyone\n")
    assert (info.value.start_line, info.value.end_line) == (2, 3)


@pytest.mark.parametrize("text,ns", [("0", 0), ("1h", 3600 * 10**9), ("1.5s", 1_500_000_000),
                                     ("2m3s", 123 * 10**9), ("10us", 10_000), ("1µs", 1000), ("-1s", -10**9)])
def test_go_durations(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize("bad", ["", "5", "1y", "s", ".s", "1.5"])
def test_bad_go_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_mount_with_variable_is_checked_after_expansion():
    m = parse_mount("type=$T,target=/x")
    assert m.type == "bind"  # the default until build args are known
    expanded = parse_mount("type=$T,target=/x", lambda v: v.replace("$T", "tmpfs"))
    assert expanded.type == "tmpfs" and not expanded.readonly
    with pytest.raises(InstructionError):
        parse_mount("type=$T,target=/x", lambda v: v.replace("$T", "nfs"))


def test_mount_quoted_csv_and_sizes():
    m = parse_mount('type=tmpfs,"target=/a,b",size=64m')
    assert (m.target, m.size) == ("/a,b", 64 << 20)
