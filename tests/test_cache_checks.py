"""`cairn check [-f Dockerfile] [CONTEXT]`: cairn's cache-aware rules on the Dockerfiles real
node, python and go projects have, each finding exact (rule, line) with its fix; the exit
status (1 only at error level); JSON; and `build --check` reporting them too. Nothing runs."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from builder.cli import main


def project(tmp_path, files: dict[str, str], name: str = "app"):
    ctx = tmp_path / name
    for rel, text in files.items():
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx / rel).write_text(text)
    return ctx


def check(tmp_path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["--root", str(tmp_path / "store"), "check", *args])
    return code, out.getvalue()


def found(text: str) -> list[tuple[int, str]]:
    return [(int(line.split(":")[1]), line.split(":")[2].strip()) for line in text.splitlines()
            if line.startswith("Dockerfile:")]


NODE = """\
FROM node:20-slim
ARG GIT_COMMIT
WORKDIR /app
RUN apt-get update
RUN apt-get install -y curl
COPY . .
RUN npm ci
RUN npm run build
LABEL org.opencontainers.image.revision=$GIT_COMMIT
CMD ["node", "dist/index.js"]
"""

PYTHON = """\
FROM python:3.12-slim
ENV BUILD_DATE=2024-05-01T10:00:00Z
WORKDIR /srv
COPY requirements.txt app.py ./
RUN pip install --no-cache-dir -r requirements.txt
ADD https://example.com/model.bin /srv/model.bin
ENV DATABASE_PASSWORD=hunter2
CMD ["python", "app.py"]
"""

GO = """\
FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /out/app ./cmd/app

FROM gcr.io/distroless/static
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
"""

CASES = [  # (name, Dockerfile, context files, exit status, [(line, rule)])
    ("node", NODE, {"package.json": "{}", "package-lock.json": "{}", "src/index.ts": "", ".git/HEAD": "x"}, 0,
     [(2, "PerBuildValueEarly"), (4, "AptUpdateAlone"), (6, "CopyContextBeforeInstall"),
      (6, "VolatileContextPath")]),
    ("python", PYTHON, {"requirements.txt": "flask\n", "app.py": ""}, 1,
     [(2, "PerBuildValueEarly"), (4, "ManifestCopiedWithSources"), (6, "AddRemoteWithoutChecksum"),
      (7, "SecretsUsedInArgOrEnv")]),
    ("go", GO, {"go.mod": "module x\n", "go.sum": "", "cmd/app/main.go": "", ".git/HEAD": "x",
                ".dockerignore": ".git\n"}, 0,
     [(3, "CopyContextBeforeInstall")]),
]


@pytest.mark.parametrize("name,dockerfile,files,status,expected", CASES, ids=[c[0] for c in CASES])
def test_real_projects(tmp_path, name, dockerfile, files, status, expected):
    ctx = project(tmp_path, {"Dockerfile": dockerfile, **files})
    code, out = check(tmp_path, str(ctx))
    assert (code, found(out)) == (status, expected), out


def test_fixes_name_the_lines_to_write(tmp_path):
    """The manifest-first split is written out with the project's own lines."""
    ctx = project(tmp_path, {"Dockerfile": NODE, "package.json": "{}", "package-lock.json": "{}"})
    _, out = check(tmp_path, str(ctx))
    assert ("Dockerfile:6: CopyContextBeforeInstall: COPY . . comes before `npm ci` at line 7: any source edit "
            "reruns the install\n    fix: copy the manifests first, then the sources:\n"
            "        COPY package.json package-lock.json ./\n        RUN npm ci\n        COPY . .\n") in out
    assert "fix: update and install in one RUN: RUN apt-get update && apt-get install -y curl\n" in out
    py = project(tmp_path, {"Dockerfile": PYTHON, "requirements.txt": ""}, "py")
    _, out = check(tmp_path, str(py))
    assert ("    fix: copy the manifests on their own before the install:\n        COPY requirements.txt ./\n"
            "        RUN pip install --no-cache-dir -r requirements.txt\n        COPY app.py ./\n") in out
    assert "fix: pin it: ADD --checksum=sha256:<sha256 of the file> https://example.com/model.bin" in out
    go = project(tmp_path, {"Dockerfile": GO, "go.mod": "", "go.sum": ""}, "go")
    _, out = check(tmp_path, str(go))
    assert "        COPY go.mod go.sum ./\n        RUN go build -o /out/app ./cmd/app\n        COPY . .\n" in out


def test_json_and_file_flag(tmp_path):
    """`cairn check -f build/Dockerfile --format json .`: id, line, message, fix, level."""
    ctx = project(tmp_path, {"build/Dockerfile": PYTHON, "requirements.txt": ""})
    code, out = check(tmp_path, "-f", str(ctx / "build/Dockerfile"), "--format", "json", str(ctx))
    assert code == 1
    doc = json.loads(out)
    rows = [(w["ruleName"], w["location"]["ranges"][0]["start"]["line"], w["level"]) for w in doc["warnings"]]
    assert rows == [("PerBuildValueEarly", 2, "warning"), ("ManifestCopiedWithSources", 4, "warning"),
                    ("AddRemoteWithoutChecksum", 6, "warning"), ("SecretsUsedInArgOrEnv", 7, "error")]
    assert all(w["fix"] and w["detail"] for w in doc["warnings"])


def test_what_a_project_needs_is_never_flagged(tmp_path):
    """A good Dockerfile is clean (exit 0); a .git the build copies on purpose is not to be
    ignored; `# check=skip=` silences a rule, `error=true` makes warnings fail."""
    good = ("FROM node:20-slim\nWORKDIR /app\nRUN apt-get update && apt-get install -y curl\n"
            "COPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build\n"
            "ARG GIT_COMMIT\nLABEL revision=$GIT_COMMIT\n")
    ctx = project(tmp_path, {"Dockerfile": good, "package.json": "{}", ".dockerignore": ".git\n", ".git/HEAD": ""})
    assert check(tmp_path, str(ctx)) == (0, "Check complete, no warnings found.\n")
    needs_git = "FROM alpine\nCOPY .git /src/.git\nCOPY . /src\n"
    ctx = project(tmp_path, {"Dockerfile": needs_git, ".git/HEAD": ""}, "needs-git")
    assert check(tmp_path, str(ctx)) == (0, "Check complete, no warnings found.\n")
    ctx = project(tmp_path, {"Dockerfile": "# check=skip=AptUpdateAlone\n" + "FROM debian\nRUN apt-get update\n"
                             "ADD http://example.com/a /a\n"}, "skip")
    assert found(check(tmp_path, str(ctx))[1]) == [(4, "AddRemoteWithoutChecksum")]
    ctx = project(tmp_path, {"Dockerfile": "# check=error=true\nFROM debian\nRUN apt-get update\n"}, "strict")
    assert check(tmp_path, str(ctx))[0] == 1


def test_epoch_per_commit_with_workdir(tmp_path):
    """SOURCE_DATE_EPOCH given per commit is in every key: the first WORKDIR is named."""
    ctx = project(tmp_path, {"Dockerfile": "FROM alpine\nARG SOURCE_DATE_EPOCH\nWORKDIR /app\nRUN true\n"})
    assert found(check(tmp_path, str(ctx))[1]) == [(3, "SourceDateEpochPerCommit")]
    ctx = project(tmp_path, {"Dockerfile": "FROM alpine\nWORKDIR /app\nRUN true\n"}, "b")
    assert found(check(tmp_path, "--build-arg", "SOURCE_DATE_EPOCH=1700000000", str(ctx))[1]) == [
        (2, "SourceDateEpochPerCommit")]
    assert check(tmp_path, str(ctx))[0] == 0


def test_build_check_reports_cache_rules(tmp_path):
    """`cairn build --check .` prints the cache rules too (and exits 1 for any finding, as buildx)."""
    ctx = project(tmp_path, {"Dockerfile": "FROM debian\nRUN apt-get update\n"})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--root", str(tmp_path / "store"), "build", "--check", str(ctx)]) == 1
    assert found(out.getvalue()) == [(2, "AptUpdateAlone")]


def test_heredoc_run_is_read(tmp_path):
    """A RUN heredoc's body counts: `COPY . .` before a heredoc `pip install -r` is found."""
    ctx = project(tmp_path, {"Dockerfile": "FROM python:3.12\nCOPY . .\nRUN <<EOF\nset -e\n"
                             "pip install -r requirements.txt\nEOF\n", "requirements.txt": ""})
    assert found(check(tmp_path, str(ctx))[1]) == [(2, "CopyContextBeforeInstall")]
