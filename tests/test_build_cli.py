"""`cairn build` as docker's users type it: -q, --iidfile, --load, --secret from a file or
an environment variable, -t validated as `cairn tag` does; BuildKit's step names and failure
listing; and everything build refuses, refused before the first step (and by parse --validate)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from .conftest import cairn_cli, imported_store

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "buildcli")


def context(tmp_path: Path, dockerfile: str, **files: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (ctx / name).write_text(text)
    return ctx


# (instruction lines, what build says, the line of those it refuses); each Dockerfile's first
# step would print STARTED.
REFUSED = [
    ("RUN --network=bogus true", 'unsupported network mode "bogus"', 1),
    ("RUN --security=weird true", 'unsupported security mode "weird"', 1),
    ("RUN --mount=type=bind,foo=bar true", "unexpected key 'foo'", 1),
    ("ENV T=nosuch\nRUN --mount=type=$T,target=/x true", "unsupported mount type", 2),
    ("COPY --chmod=abc Dockerfile /b", "invalid chmod parameter", 1),
    ("FROM scratch\nCOPY --from=first /bin/busybox /\nARG MODE=9z\nCOPY --chmod=$MODE Dockerfile /b",
     "--chmod=9z", 4),
    ("COPY --nope Dockerfile /b", "unknown flag: nope", 1),
    ("COPY --from=Bad!Name /a /b", "invalid reference format", 1),
    ("COPY --from=later /a /b\nFROM busybox:local AS later\nFROM first", 'cannot copy from stage "later"', 1),
    ("EXPOSE 80/xyz", "invalid proto: xyz", 1),
    ('VOLUME ""', "VOLUME specified can not be an empty string", 1),
    ("WORKDIR ${X", "missing '}'", 1),
    ("FROM scratch\nCOPY --from=first /bin/busybox /\nARG X\nWORKDIR ${X:?X is needed}", "X is needed", 4),
    ("ADD --checksum=sha256:" + "0" * 64 + " Dockerfile /b", "ADD --checksum needs exactly one URL", 1),
    ("ADD --user-agent=cairn Dockerfile /b", "--user-agent can't be specified for non-HTTP sources", 1),
    ("RUN <<a/b\n#!/bin/sh\necho hi\na/b", "cannot be a script file name", 1),
]
BUILD_ONLY = [  # what only the build's own flags decide (--allow, --secret)
    ("RUN --network=host true", "network.host is not allowed", 1),
    ("RUN --mount=type=secret,id=tok,required=true true", "secret 'tok' is required", 1),
]


def refused_dockerfile(body: str, n: int) -> tuple[str, int]:
    """(the Dockerfile, the line of the instruction refused)"""
    return f"FROM busybox:local AS first\nRUN echo STARTED\n{body}\n", 2 + n


def parse_validate(tmp_path: Path, text: str, capsys) -> tuple[int, str]:
    """`cairn parse --validate Dockerfile` (in this process: a table of cases costs no starts)."""
    from builder.cli import main

    path = tmp_path / "Dockerfile"
    path.write_text(text)
    capsys.readouterr()
    code = main(["parse", "--validate", str(path)]) or 0
    return code, capsys.readouterr().err.replace(str(path), "Dockerfile")


def test_parse_validate_refuses_what_build_would(tmp_path, capsys):
    for body, message, n in REFUSED:
        text, line = refused_dockerfile(body, n)
        code, err = parse_validate(tmp_path, text, capsys)
        assert code == 2 and message in err and err.startswith(f"Dockerfile:{line}: "), (body, err)


def test_parse_validate_passes_what_builds(tmp_path, capsys):
    text = ("ARG BASE=busybox:local\nFROM ${BASE} AS b\nARG MODE=0755\nENV PORT=80\n"
            "COPY --chmod=$MODE Dockerfile /b\nEXPOSE $PORT\nRUN --network=none --mount=type=cache,target=/c true\n"
            "WORKDIR $FROM_THE_IMAGE\nCOPY --chmod=$FROM_THE_IMAGE Dockerfile /c\n"
            "ARG ALSO_FROM_THE_IMAGE=9z\nCOPY --chmod=$ALSO_FROM_THE_IMAGE Dockerfile /c\n"
            "FROM b\nCOPY --from=b /b /c\nRUN --network=host true\n")
    assert parse_validate(tmp_path, text, capsys) == (0, "")


@root_only
def test_build_refuses_before_any_step(root, tmp_path, capsys):
    from builder.cli import main

    for body, message, n in REFUSED + BUILD_ONLY:
        text, line = refused_dockerfile(body, n)
        ctx = context(tmp_path, text)
        capsys.readouterr()
        code = main(["--root", str(root), "build", "--progress", "plain", str(ctx)])  # (no start per case)
        err = capsys.readouterr().err
        assert code == 2 and message in err and f"Dockerfile:{line}: " in err, (body, err)
        assert "STARTED" not in err.replace("RUN echo STARTED", ""), (body, err)  # its output never came
        assert not re.search(r"^#\d+ \[(\S+ )?\d+/\d+\] RUN echo STARTED", err, re.MULTILINE), (body, err)
        assert "Traceback" not in err


@root_only
def test_quiet_iidfile_load_and_secrets_from_env_and_file(root, tmp_path):
    secret_file = tmp_path / "npmrc"
    secret_file.write_text("file-s3cret-7731")
    def digest(text: str) -> str:  # (the Dockerfile, in the image's history, holds no secret)
        return hashlib.sha256(text.encode()).hexdigest()

    ctx = context(tmp_path, "FROM busybox:local\n"
                            "RUN --mount=type=secret,id=token,env=TOKEN --mount=type=secret,id=npmrc "
                            f"test \"$(printf %s \"$TOKEN\" | sha256sum)\" = '{digest('env-s3cret-4242')}  -' && "
                            f"test \"$(sha256sum < /run/secrets/npmrc)\" = '{digest('file-s3cret-7731')}  -' "
                            "&& echo checked > /checked\n")
    iid, meta = tmp_path / "id.txt", tmp_path / "meta.json"
    env = {"GITHUB_TOKEN": "env-s3cret-4242"}
    res = cairn_cli("build", "-q", "--load", "--iidfile", str(iid), "--metadata-file", str(meta), "-t", "app:1",
                    "--secret", "id=token,env=GITHUB_TOKEN", "--secret", f"id=npmrc,type=file,src={secret_file}",
                    str(ctx), root=root, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stderr == b""  # -q: no progress
    assert re.fullmatch(rb"sha256:[0-9a-f]{64}\n", res.stdout), res.stdout
    assert iid.read_bytes() == res.stdout.strip()
    archive = tmp_path / "app.tar"
    assert cairn_cli("save", "-o", str(archive), "app:1", root=root).returncode == 0
    for stored in (archive.read_bytes(), meta.read_bytes()):
        assert b"env-s3cret-4242" not in stored and b"file-s3cret-7731" not in stored
    assert cairn_cli("run", "--rm", "--network", "none", "app:1", "cat", "/checked", root=root).stdout == b"checked\n"
    # type=env with src= names the variable (buildx); a variable that is not set is refused
    res = cairn_cli("build", "-q", "--secret", "id=token,type=env,src=NOT_SET_ANYWHERE", str(ctx), root=root)
    assert res.returncode == 2 and b"NOT_SET_ANYWHERE is not set" in res.stderr


@root_only
def test_tag_is_checked_as_cairn_tag_checks_it(root, tmp_path):
    ctx = context(tmp_path, "FROM busybox:local\nRUN echo STARTED\n")
    res = cairn_cli("build", "--progress", "plain", "-t", "Upper:1", str(ctx), root=root)
    assert res.returncode == 1, res.stderr  # docker build: exit 1
    assert res.stderr.decode().strip() == "invalid tag 'Upper:1': repository name must be lowercase"
    tag = cairn_cli("tag", "busybox:local", "Upper:1", root=root)
    assert tag.returncode != 0 and b"repository name must be lowercase" in tag.stderr


@root_only
def test_step_names_and_failed_run_listing(root, tmp_path):
    ctx = context(tmp_path, "ARG BASE=busybox:local\n"
                            "FROM ${BASE} AS builder\n"
                            "RUN echo one\n"
                            "WORKDIR /app\n"
                            "FROM ${BASE}\n"
                            "COPY --from=builder /app /app\n"
                            "RUN echo oops-output && \\\n"
                            "    exit 3\n"
                            "LABEL never=reached\n")
    res = cairn_cli("build", "--progress", "plain", str(ctx), root=root)
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert re.search(r"^#\d+ \[builder 1/3\] FROM busybox:local$", err, re.MULTILINE), err
    assert re.search(r"^#\d+ \[builder 2/3\] RUN echo one( \(cache miss: .*\))?$", err, re.MULTILINE), err
    assert re.search(r"^#\d+ \[builder 3/3\] WORKDIR /app$", err, re.MULTILINE), err
    assert re.search(r"^#\d+ \[stage-1 1/3\] FROM busybox:local$", err, re.MULTILINE), err
    assert re.search(r"^#\d+ \[stage-1 2/3\] COPY --from=builder /app /app( \(cache miss: .*\))?$", err, re.MULTILINE), err
    listing = err[err.index("------\n > [stage-1 3/3]"):]
    assert listing == (
        "------\n"
        " > [stage-1 3/3] RUN echo oops-output &&     exit 3:\n"
        "oops-output\n"
        "------\n"
        "Dockerfile:7\n"
        "--------------------\n"
        "   6 |     COPY --from=builder /app /app\n"
        "   7 | >>> RUN echo oops-output && \\\n"
        "   8 | >>>     exit 3\n"
        "   9 |     LABEL never=reached\n"
        "--------------------\n"
        'ERROR: failed to solve: process "/bin/sh -c echo oops-output &&     exit 3" did not complete '
        "successfully: exit code: 3\n"), listing
    # one stage: the name is just the place
    ctx = context(tmp_path, "FROM busybox:local\nRUN true\n")
    err = cairn_cli("build", "--progress", "plain", str(ctx), root=root).stderr.decode()
    assert re.search(r"^#\d+ \[1/2\] FROM busybox:local$", err, re.MULTILINE) and re.search(r"^#\d+ \[2/2\] RUN true( \(cache miss: .*\))?$",
                                                                                    err, re.MULTILINE), err
    events = [json.loads(line) for line in cairn_cli("build", "--progress", "json", str(ctx),
                                                     root=root).stderr.decode().splitlines()]
    assert [e["text"] for e in events if e["type"] in ("stage", "step")] == ["FROM busybox:local", "RUN true"]
