"""`cairn parse` as a user runs it: output, exit codes, and no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import CONFORMANCE, REPO


def cairn(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], cwd=REPO, input=stdin,
                          capture_output=True, timeout=60)


def test_dump_matches_conformance_result():
    case = CONFORMANCE / "buildkit-parser" / "testfiles" / "env"
    res = cairn("parse", "--dump", str(case / "Dockerfile"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode() == (case / "result").read_text().rstrip("\n") + "\n"


def test_json_output_has_lines_and_heredocs(tmp_path):
    import json

    df = tmp_path / "Dockerfile"
    df.write_text("FROM scratch\nRUN <<EOF\necho hi\nEOF\n")
    res = cairn("parse", "--json", str(df))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    run = doc["instructions"][1]
    assert (run["start_line"], run["end_line"]) == (2, 4)
    assert run["heredocs"][0]["content"] == "echo hi\n"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("FROM scratch\nCOPY --chwon=1 a b\n", "Dockerfile:2: unknown flag: chwon (did you mean chown?)"),
        ("FROM scratch\nRUNN x\n", "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"),
        ('FROM scratch\nCMD ["a", 1]\n', "Dockerfile:2: when using JSON array syntax"),
        ("", "Dockerfile:1: file with no instructions"),
    ],
)
def test_errors_are_located_exit_2_without_traceback(tmp_path, text, expected):
    df = tmp_path / "Dockerfile"
    df.write_text(text)
    res = cairn("parse", "--validate", str(df))
    err = res.stderr.decode()
    assert res.returncode == 2
    assert err.startswith(str(df) + expected[len("Dockerfile"):])
    assert "Traceback" not in err


def test_stdin_is_named_dockerfile():
    res = cairn("parse", "--validate", "-", stdin=b"FROM scratch\nWORKDIR\n")
    assert res.returncode == 2
    assert res.stderr.decode().startswith("Dockerfile:2: WORKDIR requires exactly one argument")
    assert "    2 | WORKDIR" in res.stderr.decode()


def test_bad_flag_names_the_flag(tmp_path):
    res = cairn("parse", "--bogus", "x")
    assert res.returncode == 2
    assert "--bogus" in res.stderr.decode()


def test_missing_file_is_a_clear_error(tmp_path):
    res = cairn("parse", str(tmp_path / "nope"))
    assert res.returncode != 0
    err = res.stderr.decode()
    assert "nope" in err and "Traceback" not in err


def test_debug_shows_traceback(tmp_path):
    df = tmp_path / "Dockerfile"
    df.write_text("FROM scratch\nRUNN x\n")
    res = cairn("--debug", "parse", "--validate", str(df))
    assert res.returncode != 0
    assert "Traceback" in res.stderr.decode()


def test_undecodable_bytes_survive_the_dump(tmp_path):
    df = tmp_path / "Dockerfile"
    df.write_bytes(b"FROM scratch\nRUN echo \xff\xfe\n")
    res = cairn("parse", str(df))
    assert res.returncode == 0, res.stderr
    assert res.stdout == b'(from "scratch")\n(run "echo \\xff\\xfe")\n'
