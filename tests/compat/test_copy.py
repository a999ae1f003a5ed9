"""COPY, ported from BuildKit's dockerfile_copy_test.go: path rules, wildcards, symlinks,
--chown/--chmod, --link, and the cache keys of wildcard sources."""

from __future__ import annotations

import os
import socket
import stat

from .helpers import build_err, build_ok, container, export, needs_root, write

pytestmark = needs_root


def test_copy_from_variable_is_rejected(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY --from=$STAGE . .\n"})
    err = build_err(root, ctx)
    assert "variable expansion is not supported for --from" in err


def test_copy_to_empty_destination_is_workdir(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nWORKDIR /w\nENV nothing=\"\"\nCOPY data.txt $nothing\n"
                                               "COPY --link data.txt $nothing\n",
                                 "data.txt": "payload"})
    out = export(root, ctx, tmp_path / "out")
    assert (out / "w/data.txt").read_text() == "payload"


def test_copy_dest_with_slash_is_a_directory(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY data.txt /into/\nCOPY data.txt /asname\n",
                                 "data.txt": "payload"})
    out = export(root, ctx, tmp_path / "out")
    assert (out / "into/data.txt").read_text() == "payload"
    assert (out / "asname").read_text() == "payload"


def test_copy_link_to_dot_in_workdir(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nWORKDIR /srv/www\nCOPY --link page.html .\n",
                                 "page.html": "<p>"})
    out = export(root, ctx, tmp_path / "out")
    assert (out / "srv/www/page.html").read_text() == "<p>"


@container
def test_copy_from_stage_keeps_owners_and_chown_overrides(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS src\n"
        "RUN touch /f && chown 11:22 /f && mkdir -p /d/sub && touch /d/sub/n"
        " && chown 11:22 /d && chown 12:23 /d/sub && chown 13:24 /d/sub/n\n"
        "FROM busybox AS base\n"
        "RUN mkdir -p /have/old && touch /have/file && chown 50:60 /have && chown 51:61 /have/old /have/file\n"
        "FROM base AS plain\n"
        "COPY --from=src /f /f\nCOPY --from=src /d /d\nCOPY --from=src /d/. /have\n"
        "FROM base AS owned\n"
        "COPY --from=src --chown=70:80 /f /f\nCOPY --from=src --chown=70:80 /d /d\n"
        "COPY --from=src --chown=70:80 /d/. /have\n")})

    def owners(out):
        return {p: (os.lstat(out / p).st_uid, os.lstat(out / p).st_gid)
                for p in ("f", "d", "d/sub", "d/sub/n", "have", "have/old", "have/file", "have/sub", "have/sub/n")}

    plain = owners(export(root, ctx, tmp_path / "plain", "--target", "plain"))
    assert plain == {"f": (11, 22), "d": (0, 0), "d/sub": (12, 23), "d/sub/n": (13, 24), "have": (50, 60),
                     "have/old": (51, 61), "have/file": (51, 61), "have/sub": (12, 23), "have/sub/n": (13, 24)}
    owned = owners(export(root, ctx, tmp_path / "owned", "--target", "owned"))
    assert owned == {"f": (70, 80), "d": (70, 80), "d/sub": (70, 80), "d/sub/n": (70, 80), "have": (50, 60),
                     "have/old": (51, 61), "have/file": (51, 61), "have/sub": (70, 80), "have/sub/n": (70, 80)}


@container
def test_wildcard_source_cache_key_is_the_matched_files(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox AS base\nCOPY app* files/\n"
                                                "RUN head -c 32 /dev/urandom | od -x > /unique\n"
                                                "COPY other files/\nFROM scratch\nCOPY --from=base /unique /\n"),
                                 "app1": "1", "app2": "2", "other": "o"})
    first = export(root, ctx, tmp_path / "o1").joinpath("unique").read_text()
    (ctx / "other").write_text("o changed")
    assert export(root, ctx, tmp_path / "o2").joinpath("unique").read_text() == first
    (ctx / "app2").write_text("2 changed")
    assert export(root, ctx, tmp_path / "o3").joinpath("unique").read_text() != first


def test_wildcard_matching_nothing_is_no_error(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY real.txt nomatch* /\n", "real.txt": "here"})
    out = export(root, ctx, tmp_path / "out")
    assert (out / "real.txt").read_text() == "here"


@container
def test_chown_names_create_destination_owned(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox\nARG grp\nENV who=alice\n"
                                                "RUN echo 'bob:x:1000:1000::/home/bob:/bin/sh' >> /etc/passwd && echo 'bob:x:1000:' >> /etc/group && echo 'alice:x:1001:1001::/home/alice:/bin/sh' >> /etc/passwd && echo 'alice:x:1001:' >> /etc/group\n"
                                                "COPY --chown=bob:bob . /dest\nCOPY --chown=${who}:${grp} . /dest2\n"
                                                "RUN [ \"$(stat -c '%U %G' /dest)\" = 'bob bob' ]"
                                                " && [ \"$(stat -c '%U %G' /dest2)\" = 'alice bob' ]\n")})
    build_ok(root, ctx, "--build-arg", "grp=bob")


def test_copy_through_symlinked_directory_in_context(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY via/inner.txt .\n", "real/inner.txt": "inside"})
    os.symlink("real", ctx / "via")
    out = export(root, ctx, tmp_path / "out")
    assert (out / "inner.txt").read_text() == "inside"


@container
def test_copy_from_stage_through_symlinks(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS b\nRUN mkdir -p /data/in && ln -s /data/in /abs && ln -s data/in /rel"
        " && printf value > /data/in/f\n"
        "FROM scratch\nCOPY --from=b /abs/f one\nCOPY --from=b /rel/f two\n")})
    out = export(root, ctx, tmp_path / "out")
    assert (out / "one").read_text() == "value" and (out / "two").read_text() == "value"


def test_socket_in_context_does_not_break_copy(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY . /\n", "keep.txt": "k"})
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(ctx / "app.sock"))
        out = export(root, ctx, tmp_path / "out")
    finally:
        sock.close()
    assert (out / "keep.txt").read_text() == "k"
    assert not (out / "app.sock").exists() or stat.S_ISREG(os.lstat(out / "app.sock").st_mode)


def test_copy_follows_symlink_sources(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY dir /\nCOPY dir/link target\n",
                                 "real.txt": "real"})
    (ctx / "dir").mkdir()
    os.symlink("../real.txt", ctx / "dir/link")
    out = export(root, ctx, tmp_path / "out")
    assert (out / "target").read_text() == "real"


def test_copy_symlink_sources_copy_the_target_content(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY top /\nCOPY sub/l* links/\n",
                                 "file.txt": "file", "sub/lplain": "plain", "sub/target": "t", "sub/final": "f"})
    os.symlink("file.txt", ctx / "top")
    os.symlink("target", ctx / "sub/l0")
    os.symlink("middle", ctx / "sub/l1")
    os.symlink("final", ctx / "sub/middle")
    out = export(root, ctx, tmp_path / "out")
    assert (out / "top").read_text() == "file"
    assert (out / "links/l0").read_text() == "t"
    assert (out / "links/lplain").read_text() == "plain"
    assert (out / "links/l1").read_text() == "f"


def test_chown_by_name_id_and_variables(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox\nENV uid=1000\nARG grp\n"
                                                "COPY --chown=daemon one /one\nCOPY --chown=1000:nobody tree /tree\n"
                                                "COPY --chown=${uid}:${grp} one /one-bis\n"),
                                 "one": "1", "tree/sub": ""})
    out = export(root, ctx, tmp_path / "out", "--build-arg", "grp=nobody")

    def owner(p):
        st = os.lstat(out / p)
        return st.st_uid, st.st_gid
    assert owner("one") == (1, 1)
    assert owner("tree/sub") == (1000, 65534)
    assert owner("one-bis") == (1000, 65534)


def test_chmod_octal_and_from_arg(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox\nCOPY --chmod=0644 f /f\nCOPY --chmod=777 x /x\n"
                                                "COPY --chmod=0 f /zero\nCOPY --chmod=777 f /p/f\n"
                                                "COPY --chmod=770 f /p/sub/f\nARG m\nCOPY --chmod=${m} f /fromarg\n"),
                                 "f": "f", "x": "x"})
    os.chmod(ctx / "f", 0o600)
    os.chmod(ctx / "x", 0o700)
    out = export(root, ctx, tmp_path / "out", "--build-arg", "m=755")

    def mode(p):
        return stat.S_IMODE(os.lstat(out / p).st_mode)
    assert (mode("f"), mode("x"), mode("zero"), mode("fromarg")) == (0o644, 0o777, 0, 0o755)
    # BuildKit leaves directories the copy creates at 0755
    assert mode("p") == 0o755 and mode("p/sub") == 0o755


def test_chmod_invalid_values_are_errors(root, tmp_path):
    for value in ("64a", "10000"):
        ctx = write(tmp_path / value, {"Dockerfile": f"FROM scratch\nCOPY --chmod={value} f /\n", "f": "f"})
        err = build_err(root, ctx)
        assert "invalid chmod parameter" in err and value in err


def test_chmod_symbolic_modes(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM scratch\nCOPY --chmod=go-w f /f1\nCOPY --chmod=u=rw,g=r,o=r f /f2\n"
                                                "COPY --chmod=a+X f /f3\nCOPY --chmod=go-w d /d1\n"
                                                "COPY --chmod=u+rw,g+r,o-x,o+w d /d2\nCOPY --chmod=a+X d /d3\n"),
                                 "f": "f", "d/inner": "i"})
    os.chmod(ctx / "f", 0o666)
    os.chmod(ctx / "d", 0o124)
    os.chmod(ctx / "d/inner", 0o640)
    out = export(root, ctx, tmp_path / "out")

    def mode(p):
        return stat.S_IMODE(os.lstat(out / p).st_mode)
    assert (mode("f1"), mode("f2"), mode("f3")) == (0o644, 0o644, 0o666)
    # a directory source copies its contents: the modes apply to what is inside
    assert (mode("d1/inner"), mode("d2/inner"), mode("d3/inner")) == (0o640, 0o642, 0o640)


def test_copy_over_existing_files_and_directories(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM scratch\nCOPY tree tree\nCOPY tree tree\n"
                                                "COPY src/a.go out/a.go\nCOPY src/a.go out/a.go\nCOPY src out\n"),
                                 "tree/x/y/z": "deep", "src/a.go": "package a"})
    out = export(root, ctx, tmp_path / "out")
    assert (out / "tree/x/y/z").read_text() == "deep"
    assert (out / "out/a.go").read_text() == "package a"


def test_copy_source_from_env(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nENV SRC=input.txt\nCOPY $SRC renamed\n",
                                 "input.txt": "in"})
    assert export(root, ctx, tmp_path / "out").joinpath("renamed").read_text() == "in"


def test_copy_wildcards_and_directory_forms(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM scratch\nCOPY *.go /gofiles/\nCOPY m*.go single.go\n"
                                                "COPY tree/* /t1/\nCOPY tree/*/lvl2/leaf /t2/\nCOPY tree/*/lvl2/leaf /t3/named\n"
                                                "COPY . everything/\nCOPY tree/lvl1/ t4\nCOPY tree/lvl1/. t5\nCOPY tree/lvl1 t6\n"),
                                 "main.go": "m", "util.go": "u", "tree/lvl1/lvl2/leaf": "leaf"})
    out = export(root, ctx, tmp_path / "out")
    expect = {"gofiles/main.go": "m", "gofiles/util.go": "u", "single.go": "m", "t1/lvl2/leaf": "leaf",
              "t2/leaf": "leaf", "t3/named": "leaf", "everything/main.go": "m", "t4/lvl2/leaf": "leaf",
              "t5/lvl2/leaf": "leaf", "t6/lvl2/leaf": "leaf"}
    assert {p: (out / p).read_text() for p in expect} == expect


def test_copy_relative_destinations_follow_workdir(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox\nWORKDIR /a\nWORKDIR b\nCOPY f ./\nADD f ./x/y\n"
                                                "COPY f ./x/z\nWORKDIR ..\nCOPY f ./\nCOPY f /c/\nWORKDIR /d\nCOPY . .\n"
                                                "WORKDIR /e/f\nCOPY f ../\n"),
                                 "f": "hello"})
    out = export(root, ctx, tmp_path / "out")
    for p in ("a/b/f", "a/b/x/y", "a/b/x/z", "a/f", "c/f", "d/f", "e/f"):
        assert (out / p).read_text() == "hello", p


def test_copy_unicode_and_percent_names(root, tmp_path):
    names = {"naïve-äöü.txt": "u", "pct-%C3%A4.txt": "p", "plus+sign.txt": "s"}
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\n" + "".join(f"COPY {n} /\n" for n in names), **names})
    out = export(root, ctx, tmp_path / "out")
    assert {n: (out / n).read_text() for n in names} == names
