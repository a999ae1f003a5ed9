"""`.dockerignore` exceptions below an excluded directory, from a user's side: what a real
project's ignore file lets reach the image (`COPY . /`, exported with `-o type=local`), row
by row as BuildKit does it, and the cache following exactly those files. FROM scratch: no
container.

BuildKit's reference (docs, "Dockerfile reference: .dockerignore file") says the last
matching line wins and `!` re-includes; its context walker (tonistiigi/fsutil walker.go)
walks into an excluded directory when an exception may match below it, and sends the
directory only once something below it is sent (its parents are reported lazily): so an
exception for a file that does not exist leaves no empty directory behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import cairn_cli
from .test_copy_sources import tree

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

PROJECT = ["README.md", "package.json", "a.log", "src/main.js", "src/debug.log",
           "important/b.log", "important/c.txt", "dir/keep", "dir/other", "dir/sub/f",
           "dir/sub/x.tmp", "dir/sub/keep.tmp", "node_modules/lib/index.js", "docs/keep"]
EVERYTHING = ["README.md", "a.log", "dir/", "dir/keep", "dir/other", "dir/sub/", "dir/sub/f",
              "dir/sub/keep.tmp", "dir/sub/x.tmp", "docs/", "docs/keep", "important/",
              "important/b.log", "important/c.txt", "node_modules/", "node_modules/lib/",
              "node_modules/lib/index.js", "package.json", "src/", "src/debug.log", "src/main.js"]

# (.dockerignore, the paths BuildKit puts in the image, where BuildKit's behaviour is stated)
ROWS = [
    ("dir\n!dir/keep",  # the bug: dir/keep was left out with dir
     [p for p in EVERYTHING if not p.startswith("dir/")] + ["dir/", "dir/keep"],
     "fsutil walker: walks into dir for the exception, reports dir when dir/keep is sent"),
    ("*\n!src\n!package.json",  # the allow-list form
     ["package.json", "src/", "src/debug.log", "src/main.js"],
     "reference: `*` then `!` lines, the last matching line wins"),
    ("**/*.log\n!important/*.log",
     [p for p in EVERYTHING if p not in ("a.log", "src/debug.log")],
     "reference: `**` matches any number of directories; the exception re-includes"),
    ("dir\n!dir/sub\ndir/sub/*.tmp\n!dir/sub/keep.tmp",  # a nested exception
     [p for p in EVERYTHING if not p.startswith("dir/")] + ["dir/", "dir/sub/", "dir/sub/f",
                                                           "dir/sub/keep.tmp"],
     "reference: each later line overrides the earlier ones"),
    ("dir\n!dir/missing",  # an exception for a file that does not exist: no empty dir/
     [p for p in EVERYTHING if not p.startswith("dir/")],
     "fsutil walker: an excluded directory is reported only when something below it is"),
    ("*\n!**/keep",  # an exception that may match below any directory
     ["dir/", "dir/keep", "docs/", "docs/keep"],
     "fsutil walker: without a literal prefix every excluded directory is walked"),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("dockerignore-exceptions")


def project(at: Path) -> Path:
    for name in PROJECT:
        (at / name).parent.mkdir(parents=True, exist_ok=True)
        (at / name).write_text(name)
    return at


def build(root, ctx: Path, dockerfile: str, ignore: str, out: Path | None = None) -> str:
    """Build ctx with a Dockerfile and its own `<Dockerfile>.dockerignore` kept outside the
    context, so that neither is in the context copied."""
    outside = ctx.parent / f"{ctx.name}-df"
    outside.mkdir(exist_ok=True)
    (outside / "Dockerfile").write_text(dockerfile)
    (outside / "Dockerfile.dockerignore").write_text(ignore)
    args = ["-o", f"type=local,dest={out}"] if out else []
    res = cairn_cli("build", "--progress", "plain", "-f", str(outside / "Dockerfile"), *args,
                    str(ctx), root=root)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-3000:]
    return res.stderr.decode(errors="replace")


def test_what_each_dockerignore_lets_into_the_image_is_what_buildkit_sends(root, tmp_path):
    ctx = project(tmp_path / "ctx")
    wrong = []
    for i, (ignore, expected, why) in enumerate(ROWS):
        out = tmp_path / f"out{i}"
        build(root, ctx, "FROM scratch\nCOPY . /\n", ignore, out)
        if tree(out) != sorted(expected):
            wrong.append(f"{ignore!r} ({why}):\n  got      {tree(out)}\n  expected {sorted(expected)}")
    assert not wrong, "\n".join(wrong)


def test_copy_of_an_excluded_directory_copies_its_exception(root, tmp_path):
    ctx = project(tmp_path / "ctx")
    out = tmp_path / "out"
    build(root, ctx, "FROM scratch\nCOPY dir/ /out/\n", "dir\n!dir/keep", out)
    assert tree(out) == ["out/", "out/keep"]
    assert (out / "out/keep").read_text() == "dir/keep"


def test_the_cache_follows_the_exception_and_only_it(root, tmp_path):
    ctx = project(tmp_path / "ctx")
    dockerfile, ignore = "FROM scratch\nCOPY . /\n", "dir\n!dir/keep"
    build(root, ctx, dockerfile, ignore)
    (ctx / "dir/other").write_text("changed, but ignored")
    assert "CACHED" in build(root, ctx, dockerfile, ignore)
    (ctx / "dir/keep").write_text("changed and kept")
    out = tmp_path / "out"
    assert "CACHED" not in build(root, ctx, dockerfile, ignore, out)
    assert (out / "dir/keep").read_text() == "changed and kept"
    assert not (out / "dir/other").exists()


def test_a_file_that_comes_to_match_an_exception_is_copied_at_the_next_build(root, tmp_path):
    ctx = project(tmp_path / "ctx")
    dockerfile, ignore = "FROM scratch\nCOPY . /\n", "dir\n!dir/later"
    build(root, ctx, dockerfile, ignore)
    (ctx / "dir/later").write_text("new")
    out = tmp_path / "out"
    assert "CACHED" not in build(root, ctx, dockerfile, ignore, out)
    assert tree(out / "dir") == ["later"]
