"""What a COPY source names, from a user's side: `--exclude` with `--from` (issue #15) as
from the context, wildcards in directory names of `--from` sources, and the `/./` pivot
and `**` of `COPY --parents` (the Dockerfile reference's own examples), with the cache
telling a moved pivot from an unchanged one. Everything here is FROM scratch: no container."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import cairn_cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

APP = {"app/main.py": "main", "app/README.md": "readme", "app/docs/guide": "guide",
       "app/sub/deep.py": "deep", "app/sub/notes.md": "notes"}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("copysources")


def write(ctx: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx / name).write_text(text)
    return ctx


def build(root, ctx: Path, *args) -> str:
    res = cairn_cli("build", "--progress", "plain", *args, str(ctx), root=root)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-3000:]
    return res.stderr.decode(errors="replace")


def tree(path: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        rel = os.path.relpath(dirpath, path)
        out += [os.path.normpath(os.path.join(rel, n)) + "/" for n in dirnames]
        out += [os.path.normpath(os.path.join(rel, n)) for n in filenames]
    return sorted(out)


def test_copy_from_a_stage_with_exclude_copies_what_the_context_copy_does(root, tmp_path):
    ctx = write(tmp_path / "c", {**APP, "Dockerfile": (
        "FROM scratch AS s\nCOPY app /app\n"
        "FROM scratch\n"
        "COPY --from=s --exclude=*.md --exclude=docs /app /from-stage/\n"
        "COPY --exclude=*.md --exclude=docs app /from-context/\n")})
    out = tmp_path / "o"
    build(root, ctx, "-o", f"type=local,dest={out}")
    # the patterns are relative to the source copied, as in BuildKit: *.md leaves sub/notes.md in
    assert tree(out / "from-stage") == tree(out / "from-context") == ["main.py", "sub/", "sub/deep.py",
                                                                      "sub/notes.md"]


MEDIA = {"dir1/file-101.png": "2", "dir1/file-102.txt": "3", "dir1/file-103.jpeg": "4", "dir2/file-201.pdf": "6",
         "dir2/file-202.jpeg": "7", "dir2/file-203.png": "8", "dir3/file-301.mp3": "9", "dir3/file-302.mpeg": "10",
         "dir3/deep/dir1/x.png": "11"}


@pytest.mark.parametrize("frm", ["", "--from=ctx "])
def test_exclude_patterns_are_relative_to_each_source(root, tmp_path, frm):
    """BuildKit's exclude_patterns_test.go, from the context and from a stage holding it."""
    lines = ["COPY --exclude=*/*.png --exclude=*/*.jpeg . /1", "COPY --exclude=*/*.pdf --exclude=*/*.txt . /2",
             "COPY --exclude=*.mp3 dir3/ /3/", ("COPY --exclude=*.mp3 --exclude=*.jpeg --exclude=*.png "
              "--exclude=*.pdf --exclude=*.txt --exclude=deep dir* /4/"), "COPY --exclude=* dir* /6",
             "COPY --exclude=**/*.png . /7"]
    ctx = write(tmp_path / "c", {**MEDIA, "Dockerfile": "FROM scratch AS ctx\nCOPY dir1 /dir1\nCOPY dir2 /dir2\n"
                                 "COPY dir3 /dir3\nFROM scratch\n" + "".join(
                                     line.replace("COPY ", "COPY " + frm) + "\n" for line in lines)})
    out = tmp_path / "o"
    build(root, ctx, "-o", f"type=local,dest={out}")
    got = {d: [f for f in tree(out / d) if not f.endswith("/") and f != "Dockerfile"]
           for d in ("1", "2", "3", "4", "7")}
    assert got["1"] == ["dir1/file-102.txt", "dir2/file-201.pdf", "dir3/deep/dir1/x.png", "dir3/file-301.mp3",
                        "dir3/file-302.mpeg"]
    assert got["2"] == ["dir1/file-101.png", "dir1/file-103.jpeg", "dir2/file-202.jpeg", "dir2/file-203.png",
                        "dir3/deep/dir1/x.png", "dir3/file-301.mp3", "dir3/file-302.mpeg"]
    assert got["3"] == ["deep/dir1/x.png", "file-302.mpeg"]
    assert got["4"] == ["file-302.mpeg"]
    assert tree(out / "6") == []
    assert "dir3/deep/dir1/x.png" not in got["7"] and "dir1/file-101.png" not in got["7"]


def test_an_edit_to_an_excluded_file_of_the_stage_keeps_the_copy_cached(root, tmp_path):
    ctx = write(tmp_path / "c", {**APP, "Dockerfile": (
        "FROM scratch AS s\nCOPY app /app\n"
        "FROM scratch\nCOPY --from=s --exclude=*.md /app /app/\n")})
    build(root, ctx)
    (ctx / "app/README.md").write_text("edited readme")  # the stage changes, the copied files do not
    assert build(root, ctx).count("CACHED") == 1  # the stage's COPY reruns, the --from COPY hits
    (ctx / "app/main.py").write_text("edited main")
    assert "CACHED" not in build(root, ctx)


def test_copy_from_a_stage_with_a_wildcard_in_a_directory_name(root, tmp_path):
    ctx = write(tmp_path / "c", {**APP, "Dockerfile": (
        "FROM scratch AS s\nCOPY app /app\n"
        "FROM scratch\nCOPY --from=s /app/*/deep.py /app/s*/*.md /one/\n"
        "COPY --from=s /app/no*/x /none/\n")})
    out = tmp_path / "o"
    build(root, ctx, "-o", f"type=local,dest={out}")
    assert tree(out / "one") == ["deep.py", "notes.md"]
    assert not (out / "none").exists()  # a wildcard that matches nothing copies nothing


def test_parents_pivot_and_double_star_as_the_reference_shows(root, tmp_path):
    ctx = write(tmp_path / "c", {"x/y/a.txt": "a", "x/y/b.txt": "b", "x/y/c.md": "c",
                                 "src/a.txt": "1", "src/x/b.txt": "2", "src/x/y/c.txt": "3", "src/x/y/d.md": "4",
                                 "Dockerfile": "FROM scratch\nCOPY --parents ./x/./y/*.txt /parents/\n"
                                               "COPY --parents ./src/**/*.txt /deep/\n"})
    out = tmp_path / "o"
    build(root, ctx, "-o", f"type=local,dest={out}")
    assert tree(out / "parents") == ["y/", "y/a.txt", "y/b.txt"]
    assert tree(out / "deep") == ["src/", "src/a.txt", "src/x/", "src/x/b.txt", "src/x/y/", "src/x/y/c.txt"]


def test_moving_the_pivot_is_a_new_step_not_a_cache_hit(root, tmp_path):
    ctx = write(tmp_path / "c", {"x/y/a.txt": "a", "Dockerfile": "FROM scratch\nCOPY --parents x/y/a.txt /p/\n"})
    out = tmp_path / "o1"
    build(root, ctx, "-o", f"type=local,dest={out}")
    assert tree(out / "p") == ["x/", "x/y/", "x/y/a.txt"]
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY --parents x/./y/a.txt /p/\n")
    out = tmp_path / "o2"
    assert "CACHED" not in build(root, ctx, "-o", f"type=local,dest={out}")
    assert tree(out / "p") == ["y/", "y/a.txt"]


def test_parents_directories_keep_the_sources_modes(root, tmp_path):
    ctx = write(tmp_path / "c", {"top/mid/f": "f", "Dockerfile": "FROM scratch\nCOPY --parents top/./mid/f /p/\n"})
    os.chmod(ctx / "top/mid", 0o750)
    out = tmp_path / "o"
    build(root, ctx, "-o", f"type=local,dest={out}")
    assert (os.stat(out / "p/mid").st_mode & 0o777) == 0o750 and (out / "p/mid/f").read_text() == "f"
