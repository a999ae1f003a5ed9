"""`cairn build --check` beyond BuildKit's lint tests (those are tests/compat/test_lint.py):
the --call forms, and the bounds that keep an untrusted Dockerfile's checks linear."""

from __future__ import annotations

import contextlib
import io
import json

from builder.cli import main


def write(ctx, files: dict[str, str]):
    ctx.mkdir(parents=True)
    for name, text in files.items():
        (ctx / name).write_text(text)
    return ctx


def test_call_check_is_check(tmp_path):
    """`--call check` is `--check`; `format=json` prints BuildKit's lint result shape."""
    root = tmp_path / "store"
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch as base\nCOPY Dockerfile .\n"})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--root", str(root), "build", "--call", "check", str(ctx)]) == 1
    assert out.getvalue().startswith("Dockerfile:1: FromAsCasing: ")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--root", str(root), "build", "--call", "check,format=json", str(ctx)]) == 1
    doc = json.loads(out.getvalue())
    assert [(w["ruleName"], w["location"]["ranges"][0]["start"]["line"]) for w in doc["warnings"]] == [
        ("FromAsCasing", 1)]
    assert "error" not in doc
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["--root", str(root), "build", "--check", "--call", "outline", str(ctx)]) == 2
    assert "--check" in err.getvalue()


def test_hints_are_bounded_for_untrusted_dockerfiles():
    """'did you mean' costs an edit distance per defined name: a Dockerfile with very many
    names or very long ones gets no hint past the budget, rather than quadratic time."""
    from builder.checks.words import Hints, undefined

    hint = Hints(budget=3)
    assert hint("DIR_ASSET", {"DIR_ASSETS": None, "X": None}) == "DIR_ASSETS"
    assert hint("DIR_ASSET", {"DIR_ASSETS": None, "X": None}) == ""  # budget spent
    assert Hints()("P" * 65, {"P" * 66: None}) == ""
    names = dict.fromkeys(f"A{i}" for i in range(1000))
    assert undefined("$A999${B}", names, "\\") == ["B"]


def test_checks_leave_a_required_arg_to_the_build(tmp_path):
    """`ARG NEED=${NEED:?msg}` without --build-arg NEED: the checks do not fail on it (the
    build reports it with its line); with no finding, --check exits 0."""
    ctx = write(tmp_path / "c", {"Dockerfile": 'ARG NEED=${NEED:?"you must set it"}\nFROM scratch\n'})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--root", str(tmp_path / "store"), "build", "--check", str(ctx)]) == 0
    assert out.getvalue() == "Check complete, no warnings found.\n"


def test_check_reads_the_dockerfile_from_stdin(tmp_path):
    """`cairn build --check -` as `docker build --check - < Dockerfile`."""
    from tests.conftest import cairn_cli

    res = cairn_cli("build", "--check", "-", root=tmp_path / "store", stdin=b"FROM scratch as b\n")
    assert res.returncode == 1, res.stderr
    assert res.stdout.decode().startswith("Dockerfile:1: FromAsCasing: ")


def _check(tmp_path, dockerfile: str) -> tuple[int, list[str]]:
    ctx = write(tmp_path / f"c{len(list(tmp_path.iterdir()))}", {"Dockerfile": dockerfile})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--root", str(tmp_path / "store"), "build", "--check", str(ctx)])
    return code, [line for line in out.getvalue().splitlines() if line.startswith("Dockerfile:")]


def test_definition_description(tmp_path):
    """BuildKit's testDefinitionDescription (experimental InvalidDefinitionDescription; newer
    than the catalogue's list of BuildKit tests)."""
    head = "# check=experimental=InvalidDefinitionDescription\n"
    code, found = _check(tmp_path, head + "# foo this is the foo\nARG foo=bar\n\n# base this is the base image\n"
                         "FROM scratch AS base\n\n# version this is the version number\nARG version=latest\n\n"
                         "# baz this is the baz\nARG foo=baz bar=qux baz=quux\n#\nARG bit=bat\n\n"
                         "# comment for something other than ARG or FROM\nCOPY Dockerfile .\n")
    assert (code, found) == (0, [])
    code, found = _check(tmp_path, head + "# bar this is the bar\nARG foo=bar\n# BasE this is the BasE image\n"
                         "FROM scratch AS base\n# definitely a bad comment\nARG version=latest\n"
                         "# definitely a bad comment\nARG foo=baz bar=qux baz=quux\n")
    rule = "InvalidDefinitionDescription: Comment for"
    assert found == [f"Dockerfile:3: {rule} ARG should follow the format: `# foo <description>`",
                     f"Dockerfile:5: {rule} FROM should follow the format: `# base <description>`",
                     f"Dockerfile:7: {rule} ARG should follow the format: `# version <description>`",
                     f"Dockerfile:9: {rule} ARG should follow the format: `# <arg_key> <description>`"]
    assert code == 1
    # experimental: not run unless named
    assert _check(tmp_path, "# bar this is the bar\nARG foo=bar\nFROM scratch\n") == (0, [])
