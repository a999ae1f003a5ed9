"""Every cause of a cache miss, as a user sees it: one store, one project, a table of edits
(a command line as docker's docs write it, or a change to the project) and the exact reason
each counted step prints, on its first progress line and in --metadata-file."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import io

import pytest

from .conftest import cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

DOCKERFILE = """\
FROM busybox:local AS app
COPY deps.txt /app/
ARG V=1
RUN cat /app/deps.txt > /deps
COPY src/ /app/src/
"""
STEP_LINES = [2, 4, 5]
EARLIER = "an earlier step missed first: Dockerfile:2 COPY deps.txt /app/"


def edit_deps(ctx):
    (ctx / "deps.txt").write_text("alpha\nbeta\n")


def chmod_script(ctx):
    os.chmod(ctx / "src" / "run.sh", 0o755)


def add_file(ctx):
    (ctx / "src" / "new.txt").write_text("new\n")


def remove_file(ctx):
    (ctx / "src" / "run.sh").unlink()


def edit_run(ctx):
    (ctx / "Dockerfile").write_text(DOCKERFILE.replace("> /deps", ">> /deps"))


def other_base(ctx):
    """busybox:local now names an image with one more file (its digest moves)."""
    tar = ctx.parent / "busybox2.tar"
    shutil.copy(os.environ["CAIRN_TEST_BUSYBOX"], tar)
    with tarfile.open(tar, "a") as t:
        info = tarfile.TarInfo("etc/explain-test")
        info.size = 3
        t.addfile(info, io.BytesIO(b"v2\n"))
    assert cairn_cli("import", str(tar), "busybox:local", root=ctx.parent / "root").returncode == 0


# (what the user does, the build's extra flags, the reason of each counted step: None for a hit)
CASES = [
    ("cold", None, [], ["no earlier build of this step"] * 3),
    ("no-cache", None, ["--no-cache"], ["--no-cache"] * 3),
    ("no-cache-filter", None, ["--no-cache-filter", "app"], ["--no-cache-filter app"] * 3),
    ("nothing changed", None, [], [None, None, None]),
    ("content", edit_deps, [], ["files changed: deps.txt (content)", EARLIER, EARLIER]),
    ("mode", chmod_script, [], [None, None, "files changed: src/run.sh (mode)"]),
    ("added", add_file, [], [None, None, "files changed: src/new.txt (added)"]),
    ("removed", remove_file, [], [None, None, "files changed: src/run.sh (removed)"]),
    ("build arg", None, ["--build-arg", "V=2"], [None, "env or build args changed: V",
                                                 "an earlier step missed first: Dockerfile:4 RUN cat /app/deps.txt > /deps"]),
    ("instruction", edit_run, ["--build-arg", "V=2"], [None, "the command changed",
                                   "an earlier step missed first: Dockerfile:4 RUN cat /app/deps.txt >> /deps"]),
    ("base image", other_base, ["--build-arg", "V=2"], ["BASE", EARLIER, EARLIER]),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory, busybox_tar):
    os.environ["CAIRN_TEST_BUSYBOX"] = str(busybox_tar)
    for root in imported_store(tmp_path_factory, busybox_tar, "explainstore"):
        ctx = root.parent / "ctx"
        ctx.mkdir()
        os.symlink(root, root.parent / "root")
        (ctx / "Dockerfile").write_text(DOCKERFILE)
        (ctx / "deps.txt").write_text("alpha\n")
        (ctx / "src").mkdir()
        (ctx / "src" / "run.sh").write_text("echo hi\n")
        os.chmod(ctx / "src" / "run.sh", 0o644)
        yield root, ctx


def base_digest(root) -> str:
    return json.loads(cairn_cli("inspect", "busybox:local", root=root).stdout)[0]["Id"]


def test_every_miss_names_its_cause(project):
    root, ctx = project
    meta = ctx.parent / "meta.json"
    for name, change, flags, expected in CASES:
        before = base_digest(root)
        if change is not None:
            change(ctx)
        res = cairn_cli("build", "--progress", "plain", "--metadata-file", str(meta), *flags, str(ctx), root=root)
        assert res.returncode == 0, (name, res.stderr)
        if expected[0] == "BASE":
            expected = [f"the base image changed: {before} -> {base_digest(root)}"] + expected[1:]
            assert expected[0].count("sha256:") == 2, expected
        steps = [s for s in json.loads(meta.read_text())["steps"] if s["instruction"].split()[0] in ("RUN", "COPY")]
        assert [s["explanation"] for s in steps] == expected, name
        assert [s["line"] for s in steps] == STEP_LINES and {s["stage"] for s in steps} == {"app"}
        # the reason is on the step's first line, before anything the step prints
        err = res.stderr.decode()
        for step, reason in zip(steps, expected):
            first = next(line for line in err.splitlines() if step["instruction"] in line)
            if reason is None:
                assert "cache miss" not in first
            else:
                assert first.endswith(f"{step['instruction']} (cache miss: {reason})"), (name, first)
                number = first.split()[0]
                assert next(line for line in err.splitlines() if line.startswith(number + " ")) == first


def test_json_progress_carries_the_reason_and_cause(project):
    root, ctx = project
    (ctx / "deps.txt").write_text("gamma\n")
    res = cairn_cli("build", "--progress", "json", "--build-arg", "V=2", str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stderr.decode().splitlines()]
    steps = [e for e in events if e["type"] == "step" and e.get("reason")]
    assert [(e["text"], e["reason"], e["cause"]) for e in steps] == [
        ("COPY deps.txt /app/", "cache miss: files changed: deps.txt (content)", "files"),
        ("RUN cat /app/deps.txt >> /deps", f"cache miss: {EARLIER}", "parent"),
        ("COPY src/ /app/src/", f"cache miss: {EARLIER}", "parent")]


def test_history_ls_show_diff_and_prune(project):
    """Runs after the builds above: each is in `cairn history`, two are compared step by step,
    and `cairn cache prune --all` drops them with the cache."""
    root, ctx = project
    res = cairn_cli("history", "ls", "--format", "json", root=root)
    assert res.returncode == 0, res.stderr
    builds = [json.loads(line) for line in res.stdout.decode().splitlines()]
    assert len(builds) == len(CASES) + 1 and all(b["dockerfile"] == str(ctx / "Dockerfile") for b in builds)
    last, before = builds[0], builds[1]  # (the newest first)
    assert (last["hits"], last["misses"], last["steps"]) == (0, 3, 4) and last["context"] == str(ctx)
    table = cairn_cli("history", "ls", root=root).stdout.decode().splitlines()
    assert table[0].split() == ["ID", "STARTED", "DURATION", "HITS", "MISSES", "DIGEST", "DOCKERFILE"]
    assert len(table) == len(builds) + 1
    shown = cairn_cli("history", "show", str(last["id"]), root=root)
    assert shown.returncode == 0, shown.stderr
    assert "Dockerfile:2 [app] COPY deps.txt /app/  MISS (files changed: deps.txt (content))" in shown.stdout.decode()
    assert f"Digest:     {last['digest']}" in shown.stdout.decode()
    diff = cairn_cli("history", "diff", str(before["id"]), str(last["id"]), root=root)
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.decode().splitlines() == [
        "Dockerfile:2 COPY deps.txt /app/: files changed: deps.txt (content)",
        f"Dockerfile:4 RUN cat /app/deps.txt >> /deps: {EARLIER}",
        f"Dockerfile:5 COPY src/ /app/src/: {EARLIER}"]
    same = cairn_cli("history", "diff", str(last["id"]), str(last["id"]), root=root)
    assert same.stdout.decode() == "no step's inputs differ\n"
    missing = cairn_cli("history", "show", "999999", root=root)
    assert missing.returncode == 1 and b"no build '999999' in the history" in missing.stderr
    assert cairn_cli("cache", "prune", "--all", root=root).returncode == 0
    assert cairn_cli("history", "ls", "--format", "json", root=root).stdout == b""
