"""Stages, ONBUILD, WORKDIR, USER and the Dockerfile itself, ported from BuildKit's
dockerfile_multistage_test.go, dockerfile_onbuild_test.go, dockerfile_workdir_test.go,
dockerfile_core_test.go and dockerfile_dockerignore_test.go."""

from __future__ import annotations

import os

from ..conftest import cairn_cli
from .helpers import build_err, build_ok, container, export, needs_root, tar_bytes, write

pytestmark = needs_root


def test_copy_from_an_image_name(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY --from=busybox /etc/passwd test\n"})
    assert "root" in (export(root, ctx, tmp_path / "o") / "test").read_text()


@container
def test_stage_name_masks_an_image_name(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox AS alpine\nRUN mkdir -p /usr/bin && printf foo > /usr/bin/go\n"
                                                "FROM scratch\nCOPY --from=alpine /usr/bin/go go\n")})
    assert (export(root, ctx, tmp_path / "o") / "go").read_text() == "foo"


def test_stage_names_are_case_insensitive(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM scratch AS STAge0\nCOPY foo bar\nFROM scratch AS staGE1\n"
                                                "COPY --from=staGE0 bar baz\nFROM scratch\nCOPY --from=stage1 baz bax\n"),
                                 "foo": "foo-contents"})
    assert (export(root, ctx, tmp_path / "o", "--target", "Stage1") / "baz").read_text() == "foo-contents"


def test_copy_from_a_later_stage_is_an_error(root, tmp_path):
    for src in ("/", "/d2"):
        ctx = write(tmp_path / src.strip("/"), {"Dockerfile": (f"FROM busybox AS target\nCOPY --from=build {src} /out\n"
                                                               "FROM busybox AS build\nCOPY /Dockerfile /d2\nFROM target\n")})
        err = build_err(root, ctx)
        assert "cannot copy from stage" in err and "needs to be defined before current stage" in err


def test_dockerfile_without_stages(root, tmp_path):
    err = build_err(root, write(tmp_path / "c", {"Dockerfile": "ARG foo=bar\n"}))
    assert "no FROM instruction" in err or "contains no stages" in err


def test_target_typo_suggests_the_stage(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch AS build\nCOPY Dockerfile /out\nFROM scratch\nCOPY --from=build /out /\n"})
    err = build_err(root, ctx, "--target", "bulid")
    assert 'target stage "bulid" could not be found (did you mean build?)' in err


@container
def test_onbuild_triggers_run_once_and_are_cleared(root, tmp_path):
    build_ok(root, write(tmp_path / "base", {"Dockerfile": "FROM busybox\nONBUILD RUN mkdir -p /out && printf 11 >> /out/foo\n"}),
             "-t", "compat/onbuild:base")
    build_ok(root, write(tmp_path / "child", {"Dockerfile": "FROM compat/onbuild:base\n"}), "-t", "compat/onbuild:child")
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM compat/onbuild:child AS base\nFROM scratch\nCOPY --from=base /out /\n"})
    assert (export(root, ctx, tmp_path / "o") / "foo").read_text() == "11"
    ctx = write(tmp_path / "d", {"Dockerfile": (
        "FROM compat/onbuild:base AS base\nRUN [ -f /out/foo ] && touch /step1\nRUN rm /out/foo\n"
        "FROM base AS child\nRUN [ ! -f /out/foo ] && touch /step2\nFROM scratch\nCOPY --from=child /step* /\n")})
    out = export(root, ctx, tmp_path / "o2")
    assert (out / "step1").exists() and (out / "step2").exists()


@container
def test_onbuild_in_an_earlier_stage_of_the_same_file(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS src\nRUN mkdir -p /in && printf 12 > /in/file\n"
        "FROM busybox AS base\nONBUILD RUN mkdir -p /out && printf 11 >> /out/foo\nONBUILD COPY --from=src /in/file /out/copied\n"
        "FROM base AS mid\nRUN cp /out/foo /out/bar\nFROM scratch\nCOPY --from=mid /out/bar /out/copied /\n")})
    out = export(root, ctx, tmp_path / "o")
    assert (out / "bar").read_text() == "11" and (out / "copied").read_text() == "12"


@container
def test_onbuild_brings_new_stage_dependencies(root, tmp_path):
    build_ok(root, write(tmp_path / "base", {"Dockerfile": "FROM busybox\nONBUILD COPY --from=alpine /etc/group /out/group2\n"}),
             "-t", "compat/onbuild-deps:base")
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM compat/onbuild-deps:base AS base\nRUN cat /out/group2 > /out/group3\n"
                                                "FROM scratch\nCOPY --from=base /out /\n")})
    assert "wheel" in (export(root, ctx, tmp_path / "o") / "group3").read_text()
    build_ok(root, write(tmp_path / "base2", {"Dockerfile": (
        "FROM busybox\nONBUILD RUN --mount=type=bind,target=/in,from=inputstage mkdir /out && cat /in/foo > /out/bar\n")}),
        "-t", "compat/onbuild-deps:base2")
    ctx = write(tmp_path / "d", {"Dockerfile": ("FROM busybox AS inputstage\nRUN printf foo > /foo\n"
                                                "FROM compat/onbuild-deps:base2 AS base\nFROM scratch\nCOPY --from=base /out /\n")})
    assert (export(root, ctx, tmp_path / "o2") / "bar").read_text() == "foo"


@container
def test_onbuild_with_cache_mount(root, tmp_path):
    build_ok(root, write(tmp_path / "base", {"Dockerfile": (
        "FROM busybox\nONBUILD RUN --mount=type=cache,target=/cache printf 42 >> /cache/foo && printf 11 >> /bar\n")}),
        "-t", "compat/onbuild-cache:base")
    build_ok(root, write(tmp_path / "c", {"Dockerfile": (
        "FROM compat/onbuild-cache:base\nRUN --mount=type=cache,target=/cache [ \"$(cat /cache/foo)\" = 42 ] && [ \"$(cat /bar)\" = 11 ]\n")}))


def test_workdir_creates_its_directory(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nWORKDIR /made\nWORKDIR /\n"})
    assert (export(root, ctx, tmp_path / "o") / "made").is_dir()


@container
def test_workdir_belongs_to_user_unless_it_exists(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox\nRUN echo 'user:x:1000:1000::/home/user:/bin/sh' >> /etc/passwd && echo 'user:x:1000:' >> /etc/group\nRUN mkdir /have && chown user:user /have\nUSER user\nWORKDIR /mydir\n"
        "WORKDIR /have\nRUN [ \"$(stat -c '%U %G' /mydir)\" = 'user user' ] && [ \"$(stat -c '%U %G' /have)\" = 'user user' ]\n")})
    build_ok(root, ctx)


def test_copy_from_stage_ignores_workdir_for_the_source(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM scratch AS base\nWORKDIR /foo\nCOPY Dockerfile /\n"
                                                "FROM scratch\nCOPY --from=base Dockerfile .\n")})
    assert (export(root, ctx, tmp_path / "o") / "Dockerfile").exists()


def test_dockerfile_and_context_in_different_directories(root, tmp_path):
    df = write(tmp_path / "df", {"Dockerfile": "FROM busybox\nCOPY foo /foo2\nCOPY foo /\n"})
    ctx = write(tmp_path / "ctx", {"foo": "bar"})
    out = export(root, ctx, tmp_path / "o", "-f", str(df / "Dockerfile"))
    assert (out / "foo").read_text() == "bar" and (out / "foo2").read_text() == "bar"


def test_symlinked_dockerfile(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile.web": "FROM scratch\nENV foo bar\n"})
    os.symlink("Dockerfile.web", ctx / "Dockerfile")
    build_ok(root, ctx)


def test_copy_into_a_symlinked_directory_of_the_image(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nADD t.tar /\nCOPY foo /symlink/\n", "foo": "content0",
                                 "t.tar": tar_bytes({}, links={"symlink": "../tmp/symlink-target"})})
    assert (export(root, ctx, tmp_path / "o") / "tmp/symlink-target/foo").read_text() == "content0"


def test_context_directory_replaced_by_a_file(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY foo /\n", "foo/bar": "contents"})
    build_ok(root, ctx)
    ctx2 = write(tmp_path / "c2", {"Dockerfile": "FROM scratch\nCOPY foo /\n", "foo": "contents2"})
    assert (export(root, ctx2, tmp_path / "o") / "foo").read_text() == "contents2"


def test_rebuild_adds_no_cache_records(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY foo /\n", "foo": "leak?"})
    build_ok(root, ctx)
    before = cairn_cli("cache", "ls", root=root).stdout
    build_ok(root, ctx)
    assert cairn_cli("cache", "ls", root=root).stdout.count(b"\n") == before.count(b"\n")


def test_lowercase_dockerfile_name(root, tmp_path):
    build_ok(root, write(tmp_path / "c", {"dockerfile": "FROM scratch\nENV x y\n"}))


def test_dockerignore_patterns_and_exceptions(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY . .\n", ".dockerignore": "ba*\nDockerfile\n!bay\n.dockerignore\n",
                                 "foo": "foo", "bar": "bar", "baz": "baz", "bay": "bay"})
    out = export(root, ctx, tmp_path / "o")
    assert sorted(os.listdir(out)) == ["bay", "foo"]


def test_invalid_dockerignore_fails_promptly(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY . .\n", ".dockerignore": "!\n"})
    build_err(root, ctx)


def test_dockerfile_specific_dockerignore(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY . .\n", "Dockerfile.dockerignore": "bar\n",
                                 "Dockerfile2": "FROM scratch\nCOPY . .\n", "Dockerfile2.dockerignore": "foo\n",
                                 "foo": "0", "bar": "0"})
    out = export(root, ctx, tmp_path / "o1")
    assert (out / "foo").exists() and not (out / "bar").exists()
    out = export(root, ctx, tmp_path / "o2", "-f", str(ctx / "Dockerfile2"))
    assert not (out / "foo").exists() and (out / "bar").exists()
