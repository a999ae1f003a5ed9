"""Heredocs, ported from BuildKit's dockerfile_heredoc_test.go: COPY <<EOF files, RUN
scripts (shell, SHELL, shebang, extra fds), <<- indentation, quoting and expansion."""

from __future__ import annotations

from .helpers import build_ok, container, export, needs_root, write

pytestmark = needs_root


@container
def test_copy_heredoc_files_modes_and_owner(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS b\nRUN echo 'user:x:1000:1000::/home/user:/bin/sh' >> /etc/passwd && echo 'user:x:1000:' >> /etc/group\nWORKDIR /dest\n"
        "COPY <<EOF single\nsingle file\nEOF\n"
        "COPY <<EOF <<EOF2 double/\nfirst file\nEOF\nsecond file\nEOF2\n"
        "COPY --chmod=777 <<EOF /perm/all\nx\nEOF\nCOPY --chmod=0644 <<EOF /perm/rw\nx\nEOF\n"
        "COPY --chown=user:user <<EOF /perm/owned\nx\nEOF\n"
        "RUN stat -c %04a /perm/all >> perms && stat -c %04a /perm/rw >> perms && stat -c %U:%G /perm/owned >> perms\n"
        "FROM scratch\nCOPY --from=b /dest /\n")})
    out = export(root, ctx, tmp_path / "o")
    expect = {"single": "single file\n", "double/EOF": "first file\n", "double/EOF2": "second file\n",
              "perms": "0777\n0644\nuser:user\n"}
    assert {p: (out / p).read_text() for p in expect} == expect


def test_copy_heredoc_backslashes_and_quotes(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        'FROM scratch\nCOPY <<EOF quote\n"in quotes"\nEOF\n'
        "COPY <<EOF s1\n\\\nEOF\nCOPY <<EOF s2\n\\\\\nEOF\nCOPY <<EOF s3\n\\$\nEOF\n"
        'COPY <<"EOF" r1\n\\\nEOF\nCOPY <<"EOF" r2\n\\\\\nEOF\nCOPY <<"EOF" r3\n\\$\nEOF\n')})
    out = export(root, ctx, tmp_path / "o")
    expect = {"quote": '"in quotes"\n', "s1": "\n", "s2": "\\\n", "s3": "$\n",
              "r1": "\\\n", "r2": "\\\\\n", "r3": "\\$\n"}
    assert {p: (out / p).read_text() for p in expect} == expect


@container
def test_run_heredoc_scripts(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS b\nRUN <<EOF\necho \"i am\" >> /d/basic\nwhoami >> /d/basic\nEOF\n"
        "RUN <<EOF\n#!/bin/awk -f\nBEGIN {\n  print \"hello\" >> \"/d/shebang\"\n  print \"world\" >> \"/d/shebang\"\n}\nEOF\n"
        "SHELL [\"/bin/awk\"]\nRUN <<EOF\nBEGIN {\n  print \"foo\" > \"/d/fake\"\n}\nEOF\n"
        "FROM scratch\nCOPY --from=b /d /\n").replace("FROM busybox AS b\n", "FROM busybox AS b\nRUN mkdir /d\n")})
    out = export(root, ctx, tmp_path / "o")
    assert (out / "basic").read_text() == "i am\nroot\n"
    assert (out / "shebang").read_text() == "hello\nworld\n"
    assert (out / "fake").read_text() == "foo\n"


@container
def test_run_heredoc_pipes_and_extra_descriptors(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS b\nWORKDIR /dest\n"
        "RUN cat <<EOF1 | tr '[:upper:]' '[:lower:]' > ./out1; \\\n  cat <<EOF2 | tr '[:lower:]' '[:upper:]' > ./out2\n"
        "hello WORLD\nEOF1\nHELLO world\nEOF2\n"
        "RUN <<EOF 3<<IN1 4<<IN2 awk -f -\nBEGIN {\n  while ((getline line < \"/proc/self/fd/3\") > 0)\n"
        "    print tolower(line) > \"./fd3\"\n  while ((getline line < \"/proc/self/fd/4\") > 0)\n"
        "    print toupper(line) > \"./fd4\"\n}\nEOF\nhello WORLD\nIN1\nHELLO world\nIN2\n"
        "FROM scratch\nCOPY --from=b /dest /\n")})
    out = export(root, ctx, tmp_path / "o")
    expect = {"out1": "hello world\n", "out2": "HELLO WORLD\n", "fd3": "hello world\n", "fd4": "HELLO WORLD\n"}
    assert {p: (out / p).read_text() for p in expect} == expect


@container
def test_heredoc_indent_stripping(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS b\nCOPY <<EOF /dest/foo-copy\n\tfoo\nEOF\nCOPY <<-EOF /dest/bar-copy\n\tbar\nEOF\n"
        "RUN <<EOF\necho \"\n\tfoo\" > /dest/foo-run\nEOF\nRUN <<-EOF\necho \"\n\tbar\" > /dest/bar-run\nEOF\n"
        "RUN <<EOF\n#!/bin/sh\necho \"\n\tfoo\" > /dest/foo2-run\nEOF\nRUN <<-EOF\n#!/bin/sh\necho \"\n\tbar\" > /dest/bar2-run\nEOF\n"
        "RUN <<EOF sh > /dest/foo3-run\necho \"\n\tfoo\"\nEOF\nRUN <<-EOF sh > /dest/bar3-run\necho \"\n\tbar\"\nEOF\n"
        "FROM scratch\nCOPY --from=b /dest /\n")})
    out = export(root, ctx, tmp_path / "o")
    expect = {"foo-copy": "\tfoo\n", "foo-run": "\n\tfoo\n", "foo2-run": "\n\tfoo\n", "foo3-run": "\n\tfoo\n",
              "bar-copy": "bar\n", "bar-run": "\nbar\n", "bar2-run": "\nbar\n", "bar3-run": "\nbar\n"}
    assert {p: (out / p).read_text() for p in expect} == expect


@container
def test_heredoc_variable_substitution(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS b\nARG name=world\n"
        "COPY <<EOF /dest/c1\nHello ${name}!\nEOF\nCOPY <<'EOF' /dest/c2\nHello ${name}!\nEOF\n"
        "COPY <<\"EOF\" /dest/c3\nHello ${name}!\nEOF\nCOPY <<EOF /dest/q1\nHello '${name}'!\nEOF\n"
        "COPY <<EOF /dest/q2\nHello \"${name}\"!\nEOF\nCOPY <<'EOF' /dest/qs\nHello \"${name}\"!\nEOF\n"
        "RUN <<EOF\ngreeting=\"Hello\"\necho \"${greeting} ${name}!\" > /dest/r1\nEOF\n"
        "RUN <<EOF\nname=\"new world\"\necho \"Hello ${name}!\" > /dest/r2\nEOF\n"
        "FROM scratch\nCOPY --from=b /dest /\n")})
    out = export(root, ctx, tmp_path / "o")
    expect = {"c1": "Hello world!\n", "c2": "Hello ${name}!\n", "c3": "Hello ${name}!\n", "q1": "Hello 'world'!\n",
              "q2": 'Hello "world"!\n', "qs": 'Hello "${name}"!\n', "r1": "Hello world!\n", "r2": "Hello new world!\n"}
    assert {p: (out / p).read_text() for p in expect} == expect


@container
def test_onbuild_heredoc(root, tmp_path):
    base = write(tmp_path / "base", {"Dockerfile": "FROM busybox\nONBUILD RUN <<EOF\necho \"hello world\" >> /dest\nEOF\n"})
    build_ok(root, base, "-t", "compat/onbuild-heredoc:base")
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM compat/onbuild-heredoc:base AS b\nFROM scratch\nCOPY --from=b /dest /dest\n"})
    assert (export(root, ctx, tmp_path / "o") / "dest").read_text() == "hello world\n"
