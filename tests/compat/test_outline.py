"""BuildKit's dockerfile_outline_test.go and dockerfile_targets_test.go, ported: `cairn build
--call outline|targets|subrequests.describe` read a Dockerfile and print what it offers,
without pulling an image or running a step (these need neither root nor a container).

The JSON is what a script reading `docker buildx build --call outline,format=json` gets:
BuildKit's result.json field names, locations as {"ranges": [{"start": {"line": N}, ...}]},
the Dockerfile in "sources" as base64 (Go's []byte)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from ..conftest import cairn_cli
from .helpers import write

OUTLINE_ARGS = """ARG inherited=box
ARG inherited2=box2
ARG unused=abc${inherited2}
# sfx is a suffix
ARG sfx="usy${inherited}"

FROM b${sfx} AS first
# this is not assigned to anything
ARG FOO=123
# BAR is a number
ARG BAR=456
RUN true

FROM alpine${unused} AS second
ARG BAZ
RUN true

FROM scratch AS third
ARG ABC=a

# target defines build target
FROM third AS target
COPY --from=first /etc/passwd /

FROM second
"""

OUTLINE_SECRETS = """
FROM busybox AS first
RUN --mount=type=secret,target=/etc/passwd,required=true --mount=type=ssh true

FROM alpine AS second
RUN --mount=type=secret,id=unused --mount=type=ssh,id=ssh2 true

FROM scratch AS third
ARG BAR
RUN --mount=type=secret,id=second${BAR} true

FROM third AS target
COPY --from=first /foo /
RUN --mount=type=ssh,id=ssh3,required true

FROM second
"""

TARGETS = """
# build defines stage for compiling the binary
FROM alpine AS build
RUN true

FROM busybox as second
RUN false

FROM alpine
RUN false

# binary returns the compiled binary
FROM second AS binary
"""


def call(tmp_path: Path, dockerfile: str, *args: str) -> tuple[int, str, str]:
    ctx = write(tmp_path / "ctx", {"Dockerfile": dockerfile})
    res = cairn_cli("build", *args, str(ctx), root=tmp_path / "store")
    return res.returncode, res.stdout.decode(), res.stderr.decode()


def call_json(tmp_path: Path, dockerfile: str, method: str, *args: str):
    code, out, err = call(tmp_path, dockerfile, "--call", f"{method},format=json", *args)
    assert code == 0, err
    return json.loads(out)


def line(item: dict) -> int:
    assert item["location"].get("sourceIndex", 0) == 0
    return item["location"]["ranges"][0]["start"]["line"]


def test_outline_args(tmp_path):
    o = call_json(tmp_path, OUTLINE_ARGS, "outline", "--build-arg", "BAR=678", "--target", "target")
    assert (o["name"], o["description"]) == ("target", "defines build target")
    assert [base64.b64decode(s).decode() for s in o["sources"]] == [OUTLINE_ARGS]
    # the globals a needed FROM uses (sfx, and inherited through sfx), then the needed stages'
    # own ARGs, by line; `second` is not needed, so neither are unused nor inherited2
    got = [(a["name"], a.get("value", ""), a.get("description", ""), line(a)) for a in o["args"]]
    assert got == [("inherited", "box", "", 1), ("sfx", "usybox", "is a suffix", 5), ("FOO", "123", "", 9),
                   ("BAR", "678", "is a number", 11), ("ABC", "a", "", 19)]
    assert "secrets" not in o and "ssh" not in o
    # the text a user reads, laid out as buildx prints it; nothing was pulled or run (bbusybox
    # and alpineabcbox2 exist nowhere)
    code, out, err = call(tmp_path, OUTLINE_ARGS, "--call", "outline", "--build-arg", "BAR=678",
                          "--target", "target")
    assert code == 0, err
    assert out == ("TARGET:      target\nDESCRIPTION: defines build target\n\n"
                   "BUILD ARG   VALUE    DESCRIPTION\n"
                   "inherited   box      \n"
                   "sfx         usybox   is a suffix\n"
                   "FOO         123      \n"
                   "BAR         678      is a number\n"
                   "ABC         a        \n\n")


def test_outline_secrets(tmp_path):
    o = call_json(tmp_path, OUTLINE_SECRETS, "outline", "--build-arg", "BAR=678", "--target", "target")
    assert [base64.b64decode(s).decode() for s in o["sources"]] == [OUTLINE_SECRETS]
    # a secret's id defaults to its target's base name, an ssh id to "default"; ids expand build args
    assert [(s["name"], s.get("required", False), line(s)) for s in o["secrets"]] == [
        ("passwd", True, 3), ("second678", False, 10)]
    assert [(s["name"], s.get("required", False), line(s)) for s in o["ssh"]] == [
        ("default", False, 3), ("ssh3", True, 14)]
    code, out, err = call(tmp_path, OUTLINE_SECRETS, "--call", "outline", "--build-arg", "BAR=678",
                          "--target", "target")
    assert code == 0, err
    assert "SECRET      REQUIRED\npasswd      true\nsecond678   \n\nSSH       REQUIRED\ndefault   \nssh3      true\n" \
        in out


def test_outline_default_target_and_global_arg_in_stage(tmp_path):
    """Without --target the outline is the last stage's; a stage's bare `ARG NAME` of a global
    shows the global (its value, description and line)."""
    dockerfile = "# VERSION is the release\nARG VERSION=1.2\nFROM scratch AS app\nARG VERSION\nARG EXTRA\n"
    o = call_json(tmp_path, dockerfile, "outline")
    assert o["name"] == "app"
    assert [(a["name"], a.get("value"), a.get("description"), line(a)) for a in o["args"]] == [
        ("VERSION", "1.2", "is the release", 2), ("EXTRA", None, None, 5)]


def test_outline_describe_definition(tmp_path):
    reqs = call_json(tmp_path, "\nFROM scratch\nCOPY Dockerfile Dockerfile\n", "subrequests.describe")
    found = [r for r in reqs if r["name"] == "frontend.outline"]
    assert len(found) == 1
    assert found[0]["type"] == "rpc" and found[0]["version"]


def test_targets_list(tmp_path):
    listing = call_json(tmp_path, TARGETS, "targets")
    assert [base64.b64decode(s).decode() for s in listing["sources"]] == [TARGETS]
    got = [(t.get("name", ""), t.get("base"), t.get("description", ""), t.get("default", False), line(t))
           for t in listing["targets"]]
    assert got == [("build", "alpine", "defines stage for compiling the binary", False, 3),
                   ("second", "busybox", "", False, 6),
                   ("", "alpine", "", False, 9),
                   ("binary", "second", "returns the compiled binary", True, 13)]
    code, out, err = call(tmp_path, TARGETS, "--call", "targets")
    assert code == 0, err
    assert out == ("TARGET           DESCRIPTION\n"
                   "build            defines stage for compiling the binary\n"
                   "second           \n"
                   "binary (default) returns the compiled binary\n")


def test_targets_describe_definition(tmp_path):
    reqs = call_json(tmp_path, "\nFROM scratch\nCOPY Dockerfile Dockerfile\n", "subrequests.describe")
    found = [r for r in reqs if r["name"] == "frontend.targets"]
    assert len(found) == 1
    assert found[0]["type"] == "rpc" and found[0]["version"]
    code, out, err = call(tmp_path, "FROM scratch\n", "--call", "subrequests.describe")
    assert code == 0, err
    assert out.splitlines()[0].split() == ["NAME", "VERSION", "DESCRIPTION"]
    assert any(row.split()[0] == "targets" for row in out.splitlines()[1:])


def test_call_errors_are_clear(tmp_path):
    """A wrong --call is a usage error naming the flag; a bad Dockerfile or target is reported
    as a build reports it (with the line), never a traceback."""
    for value in ("bogus", "outline,format=yaml", "targets,colour=red"):
        code, _, err = call(tmp_path, "FROM scratch\n", "--call", value)
        assert code == 2 and "--call" in err and "Traceback" not in err, err
    code, _, err = call(tmp_path, "FROM scratch\nRUN --mount=type=secret,id=$NOPE true\n", "--call", "outline")
    assert code == 2 and "Dockerfile:2:" in err and "Traceback" not in err, err
    code, _, err = call(tmp_path, "FROM scratch AS a\n", "--call", "outline", "--target", "b")
    assert code != 0 and 'target stage "b" could not be found' in err and "Traceback" not in err, err
