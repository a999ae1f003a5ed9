"""`cairn build --build-context`, beyond the ported BuildKit tests: a malformed flag is a
usage error naming the flag (exit 2, no traceback), and a named context is keyed by its
content: an unchanged rebuild hits every step, a changed file of a directory context misses
exactly the steps that read it, and an image context swapped for another misses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "namedctx")


def build(root: Path, ctx: Path, *args: str):
    return cairn_cli("build", "--progress", "plain", *args, str(ctx), root=root)


def steps(stderr: bytes) -> dict[str, bool]:
    """Each RUN/COPY step's text -> whether it was CACHED (stages run in parallel: by step number)."""
    texts, cached = {}, set()
    for line in stderr.decode().splitlines():
        number, _, rest = line.partition(" ")
        if rest.startswith("[") and "] " in rest:
            texts[number] = rest.split("] ", 1)[1].split(" (cache miss: ", 1)[0]  # (a miss says why)
        elif rest.strip() == "CACHED":
            cached.add(number)
    return {text: n in cached for n, text in texts.items() if text.startswith(("RUN", "COPY"))}


@pytest.mark.parametrize("flag, name", [
    ("alpine=.", "alpine"), ("docker.io/library/alpine:latest=.", "alpine"), ("alpine:3.20=.", "alpine:3.20"),
    ("localhost:5000/app=.", "localhost:5000/app"), ("ghcr.io/o/app:1=.", "ghcr.io/o/app:1"),
])
def test_context_names_are_normalised_as_image_names(flag, name):
    """As buildx: `docker.io/library/alpine:latest` and `alpine` are one name, which `FROM
    alpine:latest` also means."""
    from builder.executor.named_contexts import context_name, parse_build_context

    assert parse_build_context(flag).name == name
    assert context_name(name) == name and context_name("scratch") is None and context_name("Upper") is None


@pytest.mark.parametrize("value, says", [
    ("base", "expected NAME=VALUE"),
    ("=./x", "expected NAME=VALUE"),
    ("base=", "expected NAME=VALUE"),
    ("Base=.", "not a valid context name"),
    ("scratch=.", "cannot be replaced"),
    ("base=./no-such-dir", "is not a directory"),
    ("base={tmp}/Dockerfile", "is not a directory"),
    ("base=https://example.com/ctx.tar", "https contexts are not supported"),
    ("base=git@github.com:o/r.git", "git contexts are not supported"),
    ("base=docker-image://Bad::ref", "invalid"),
    ("base=oci-layout://no-such-dir", "is not a directory"),
    ("base=oci-layout://.@sha256:xyz", "invalid digest"),
])
def test_a_malformed_build_context_is_a_usage_error(root, tmp_path, value, says):
    (tmp_path / "Dockerfile").write_text("FROM base\n")
    res = cairn_cli("build", "--build-context", value.format(tmp=tmp_path), str(tmp_path), root=root)
    err = res.stderr.decode()
    assert res.returncode == 2, err
    assert "Traceback" not in err and "--build-context" in err and says in err, err


def test_a_missing_image_context_names_the_flag(root, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM base\n")
    res = build(root, tmp_path, "--build-context", "base=docker-image://127.0.0.1:9/no/such:1")
    err = res.stderr.decode()
    assert res.returncode == 1 and "Traceback" not in err, err
    assert "--build-context base=docker-image://127.0.0.1:9/no/such:1" in err, err


def test_a_directory_context_is_keyed_by_its_content(root, tmp_path):
    named = tmp_path / "named"
    named.mkdir()
    (named / "a").write_text("a\n")
    (named / "b").write_text("b\n")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox:local AS use\nCOPY --from=named /a /a\nRUN --mount=from=named,target=/n cat /n/b > /b\n"
        "FROM named AS whole\nCOPY --from=busybox:local /bin/busybox /bin/cat\nRUN [\"/bin/cat\", \"/a\"]\n"
        "FROM scratch\nCOPY --from=use /a /b /\nCOPY --from=whole /a /whole-a\n")
    flag = ("--build-context", f"named={named}")
    first = steps(build(root, ctx, *flag).stderr)
    assert first and not any(first.values()), first
    again = build(root, ctx, *flag)
    assert again.returncode == 0 and all(steps(again.stderr).values()), again.stderr.decode()
    (named / "b").write_text("changed\n")
    changed = steps(build(root, ctx, *flag).stderr)
    assert changed["COPY --from=named /a /a"]  # reads a only: hit
    assert not changed["RUN --mount=from=named,target=/n cat /n/b > /b"]  # reads b: miss
    assert not changed["COPY --from=busybox:local /bin/busybox /bin/cat"]  # FROM the whole directory: miss


def test_an_image_context_is_keyed_by_the_image(root, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:local\nRUN echo one > /one\n")
    assert build(root, ctx, "-t", "ctx-one:1").returncode == 0
    (ctx / "Dockerfile").write_text("FROM base\nRUN ls / > /list\n")
    assert not any(steps(build(root, ctx, "--build-context", "base=docker-image://busybox:local").stderr).values())
    assert all(steps(build(root, ctx, "--build-context", "base=docker-image://busybox:local").stderr).values())
    assert not any(steps(build(root, ctx, "--build-context", "base=docker-image://ctx-one:1").stderr).values())
