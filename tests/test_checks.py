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
