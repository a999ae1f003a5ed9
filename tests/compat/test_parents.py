"""COPY --parents, ported from BuildKit's dockerfile_parents_test.go: the source's path is
kept below the destination, from the path's start or from a `/./` pivot, with wildcards
and `**`; a wildcard that matches nothing copies nothing. The source trees are copied
from the context into a stage (no RUN needed to make them)."""

from __future__ import annotations

import os
from pathlib import Path

from .helpers import build_err, export, needs_root, write

pytestmark = needs_root

TREE = {"test/a/b/c/d/foo": "", "test/a/b/c/d/e/bay": "", "test/a/b2/c/d/e/bar": "",
        "test/a/b/c2/d/e/baz": "", "test/a/b/c2/d/e2/baz": ""}


def files(root: Path) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        out |= {os.path.normpath(os.path.join(rel, n)) + "/" for n in dirnames}
        out |= {os.path.normpath(os.path.join(rel, n)) for n in filenames}
    return out


def test_copy_parents_keeps_the_path(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY --parents foo1/foo2/bar /\nWORKDIR /test\n"
                                               "COPY --parents foo1/foo2/ba* .\n",
                                 "foo1/foo2/bar": "testing", "foo1/foo2/baz": "testing2"})
    out = export(root, ctx, tmp_path / "o")
    assert (out / "foo1/foo2/bar").read_text() == "testing"
    assert (out / "test/foo1/foo2/bar").read_text() == "testing" and (out / "test/foo1/foo2/baz").read_text() == "testing2"


SMALL_TREE = {"test/a/b/c/d/foo": "", "test/a/b/c/d/e/bay": ""}


def _relative(root, tmp_path, name: str, copy: str, tree=TREE) -> set[str]:
    df = f"FROM scratch AS base\nCOPY test /test\nFROM scratch\nCOPY --from=base --parents {copy} /out/\n"
    ctx = write(tmp_path / name, {"Dockerfile": df, **tree})
    out = export(root, ctx, tmp_path / f"o-{name}") / "out"
    assert out.is_dir()
    return files(out)


def test_copy_relative_parents_from_a_pivot(root, tmp_path):
    got = _relative(root, tmp_path, "middle", "/test/a/b/./c/d")
    assert {"c/d/e/", "c/d/foo"} <= got and not {"a/", "e/"} & got
    got = _relative(root, tmp_path, "end", "/test/a/b/c/d/.")
    assert {"test/a/b/c/d/e/", "test/a/b/c/d/foo"} <= got
    got = _relative(root, tmp_path, "start", "./test/a/b/c/d")
    assert {"test/a/b/c/d/e/", "test/a/b/c/d/foo"} <= got
    got = _relative(root, tmp_path, "double", "/test/a/./b/./c")
    assert {"b/c/d/e/", "b/c/d/foo"} <= got
    got = _relative(root, tmp_path, "wildcard", "/test/a/./*/c")
    assert {"b/c/d/e/", "b2/c/d/e/bar"} <= got
    got = _relative(root, tmp_path, "doublewildcard", "/test/a/b*/./c/**/e")
    assert {"c/d/e/", "c/d/e/bay", "c/d/e/bar"} <= got
    got = _relative(root, tmp_path, "doubleinputs", "/test/a/b/c*/./d/**/baz /test/a/b*/./c/**/bar")
    assert {"d/e/baz", "d/e2/baz", "c/d/e/bar"} <= got and "d/e/bay" not in got


def test_copy_parents_missing_paths(root, tmp_path):
    got = _relative(root, tmp_path, "normal", "/test/a/b/c/d", SMALL_TREE)
    assert {"test/a/b/c/d/e/", "test/a/b/c/d/e/bay"} <= got and not {"e/", "a/"} & got
    assert _relative(root, tmp_path, "wildcard-nonexistent", "/test/a/b2*/c", SMALL_TREE) == set()
    df = "FROM scratch AS base\nCOPY test /test\nFROM scratch\nCOPY --from=base --parents /test/nonexistent-file /out/\n"
    build_err(root, write(tmp_path / "missing", {"Dockerfile": df, **SMALL_TREE}))
    got = _relative(root, tmp_path, "wildcard-afterpivot", "/test/a/b/./c2*", SMALL_TREE)
    assert got == set()
    got = _relative(root, tmp_path, "withpivot", "/test/a/b/./c/d", SMALL_TREE)
    assert {"c/d/e/", "c/d/foo"} <= got and not {"a/", "e/"} & got
