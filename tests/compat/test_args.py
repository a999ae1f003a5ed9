"""ARG and ENV, ported from BuildKit's dockerfile_args_test.go: global ARGs in FROM,
${VAR:?err}, multi-ARG lines, proxy build args, defaults and empty values."""

from __future__ import annotations

from .helpers import build_err, build_ok, container, export, needs_root, write

pytestmark = needs_root


def test_global_arg_in_from(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "ARG tag=nosuchtag\nFROM busybox:${tag}\n"})
    build_ok(root, ctx, "--build-arg", "tag=local")
    assert "nosuchtag" in build_err(root, ctx)


def test_global_arg_required_error(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": 'ARG NEED=${NEED:?"you must set it"}\nFROM busybox\n'})
    assert "NEED: you must set it" in build_err(root, ctx)
    build_ok(root, ctx, "--build-arg", "NEED=yes")


def test_arg_default_expansion_required(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": 'FROM scratch\nARG IN\nARG OUT=${IN:?"in missing"}\n'})
    assert "IN: in missing" in build_err(root, ctx)
    build_ok(root, ctx, "--build-arg", "IN=1")
    build_ok(root, ctx, "--build-arg", "OUT=1")


@container
def test_several_args_on_one_line(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ('ARG x1="one two" x2=box\nARG x3="$x2-three"\n'
                                                'FROM busy$x2 AS b\nARG x3 x4="4 5" x1\n'
                                                'RUN printf "%s" "$x1:$x3:$x4" > /out\nFROM scratch\nCOPY --from=b /out /out\n')})
    assert (export(root, ctx, tmp_path / "o") / "out").read_text() == "one two:box-three:4 5"


@container
def test_quoted_meta_args(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ('ARG v1="box"\nARG v2="$v1-tail"\nFROM busy$v1 AS b\nARG v2\n'
                                                'ARG v3="head-$v2"\nRUN printf %s $v3 > /out\nFROM scratch\nCOPY --from=b /out /out\n')})
    assert (export(root, ctx, tmp_path / "o") / "out").read_text() == "head-box-tail"


@container
def test_targetstage_arg(root, tmp_path):
    df = ("FROM busybox AS base\nWORKDIR /out\nRUN printf \"v:$TARGETSTAGE\" > /out/before\nARG TARGETSTAGE\n"
          "RUN printf \"v:$TARGETSTAGE\" > /out/after\nFROM scratch AS other\nCOPY --from=base /out/ /\n"
          "FROM scratch\nCOPY --from=base /out/ /\n")
    ctx = write(tmp_path / "c", {"Dockerfile": df})
    out = export(root, ctx, tmp_path / "o1", "--target", "other")
    assert (out / "before").read_text() == "v:" and (out / "after").read_text() == "v:other"
    out = export(root, ctx, tmp_path / "o2")
    assert (out / "after").read_text() == "v:default"
    write(ctx, {"Dockerfile": df + "FROM scratch AS final\nCOPY --from=base /out/ /\n"})
    assert (export(root, ctx, tmp_path / "o3") / "after").read_text() == "v:final"


@container
def test_proxy_args_are_builtin_and_not_in_the_cache_key(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox AS b\nARG FOO\nARG BAR\nARG BAZ=bazdefault\n"
                                                "RUN printf %s \"$HTTP_PROXY::$NO_PROXY::$FOO::$BAR::$BAZ\" > /out\n"
                                                "FROM scratch\nCOPY --from=b /out /\n")})
    out = export(root, ctx, tmp_path / "o1", "--build-arg", "FOO=foo", "--build-arg", "HTTP_PROXY=hp",
                 "--build-arg", "NO_PROXY=np")
    assert (out / "out").read_text() == "hp::np::foo::::bazdefault"
    # a changed proxy value alone reuses the cached step
    out = export(root, ctx, tmp_path / "o2", "--build-arg", "FOO=foo", "--build-arg", "HTTP_PROXY=hp2")
    assert (out / "out").read_text() == "hp::np::foo::::bazdefault"
    out = export(root, ctx, tmp_path / "o3", "--build-arg", "FOO=foo2", "--build-arg", "HTTP_PROXY=hp2")
    assert (out / "out").read_text() == "hp2::::foo2::::bazdefault"


@container
def test_env_defaults_from_args(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("ARG image=idlebox\nFROM busy${image#idle} AS b\nARG my_arg\n"
                                                'ENV my_arg "my_arg=${my_arg:-def_val}"\nENV my_trimmed_arg "${my_arg%%e*}"\n'
                                                "COPY script.sh script.sh\nRUN ./script.sh $my_arg $my_trimmed_arg\n"
                                                "FROM scratch\nCOPY --from=b /out /out\n"),
                                 "script.sh": "#!/bin/sh\nprintf '%s' \"$my_arg $*\" > /out\n"})
    (ctx / "script.sh").chmod(0o755)
    for i, (args, expect) in enumerate([((), "my_arg=def_val my_arg=def_val my_arg=d"),
                                        (("--build-arg", "my_arg="), "my_arg=def_val my_arg=def_val my_arg=d"),
                                        (("--build-arg", "my_arg=override"), "my_arg=override my_arg=override my_arg=ov")]):
        assert (export(root, ctx, tmp_path / f"o{i}", *args) / "out").read_text() == expect


@container
def test_empty_arg_is_in_env_unset_arg_is_not(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox AS b\nARG UNSET\nARG EMPTY=\nRUN env > /env.txt\n"
                                                "FROM scratch\nCOPY --from=b /env.txt /env.txt\n")})
    env = (export(root, ctx, tmp_path / "o") / "env.txt").read_text().splitlines()
    assert "EMPTY=" in env and not any(line.startswith("UNSET=") for line in env)


@container
def test_env_value_with_percent(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nENV myenv foo%sbar\nRUN [ \"$myenv\" = 'foo%sbar' ]\n"})
    build_ok(root, ctx)
