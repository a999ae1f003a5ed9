"""ADD of a git repository, ported from BuildKit's dockerfile_addgit_test.go: real
repositories (SHA-1 and SHA-256) served by `git http-backend` (git's smart HTTP) on
127.0.0.1; refs, tags, commits, subdirs, the query form, --keep-git-dir, --checksum, and a
cache keyed by the commit."""

from __future__ import annotations

import os
import subprocess

import pytest

from ..git_server import GIT_ENV, commit, git, make_repo, serving
from .helpers import build, build_err, build_ok, cached_steps, container, export, needs_root, write

pytestmark = needs_root


@pytest.fixture
def tagged(tmp_path, request):
    """A repository with three tagged commits (foo = "foo of TAG"), served; yields
    (base URL of the repository, {tag: commit})."""
    repo = make_repo(tmp_path / "srv" / "repo", request.param)
    commits = {tag: commit(repo, {"foo": f"foo of {tag}\n"}, tag, tag) for tag in ("v0.0.1", "v0.0.2", "v0.0.3")}
    with serving(tmp_path / "srv") as (url, requests):
        yield f"{url}/repo/.git", commits, requests


def _ok(root, tmp_path, name, dockerfile):
    return export(root, write(tmp_path / name, {"Dockerfile": dockerfile}), tmp_path / f"{name}-out")


@pytest.mark.parametrize("tagged", ["sha1", "sha256"], indirect=True)
def test_add_git(root, tmp_path, tagged):
    """testAddGitSHA1 / testAddGitSHA256."""
    remote, commits, _ = tagged
    out = _ok(root, tmp_path, "basic", f"""FROM scratch
ADD {remote}#v0.0.1 /x
ARG REPO="{remote}"
ARG TAG="v0.0.2"
ADD --keep-git-dir=true --chown=4242:8484 --checksum={commits['v0.0.2']} ${{REPO}}#${{TAG}} /buildkit-chowned
ADD --checksum={commits['v0.0.3']} ${{REPO}}#v0.0.3 /nogitdir
ADD --keep-git-dir --checksum={commits['v0.0.2']} ${{REPO}}#v0.0.2 /gitdir
ADD --keep-git-dir=true --checksum={commits['v0.0.3']} ${{REPO}}#{commits['v0.0.3']} /commitdir
""")
    assert (out / "x/foo").read_text() == "foo of v0.0.1\n" and not (out / "x/.git").exists()
    chowned = out / "buildkit-chowned/foo"
    assert chowned.read_text() == "foo of v0.0.2\n"
    assert (os.stat(chowned).st_uid, os.stat(chowned).st_gid) == (4242, 8484)
    status = subprocess.run(["git", "-c", "safe.directory=*", "-C", str(out / "buildkit-chowned"), "status", "-s"],
                            capture_output=True, env=GIT_ENV)
    assert status.returncode == 0 and status.stdout == b"", status.stderr
    assert (out / "nogitdir/foo").read_text() == "foo of v0.0.3\n" and not (out / "nogitdir/.git").exists()
    assert (out / "gitdir/foo").read_text() == "foo of v0.0.2\n" and (out / "gitdir/.git").is_dir()
    assert (out / "commitdir/foo").read_text() == "foo of v0.0.3\n" and (out / "commitdir/.git").is_dir()
    assert (out / "commitdir/.git/HEAD").read_text().strip() == commits["v0.0.3"]

    err = build_err(root, write(tmp_path / "wrong", {"Dockerfile": (
        f"FROM scratch\nADD --checksum={commits['v0.0.2']} {remote}#v0.0.3 /faildir\n")}))
    assert "expected checksum to match" in err and "Dockerfile:2" in err
    err = build_err(root, write(tmp_path / "garbage", {"Dockerfile": f"FROM scratch\nADD --checksum=foobar {remote}#v0.0.3 /f\n"}))
    assert "invalid checksum" in err and "expected hex commit hash" in err


@container
@pytest.mark.parametrize("tagged", ["sha1"], indirect=True)
def test_add_git_checksum_cache(root, tmp_path, tagged):
    """testAddGitChecksumCache: a build that names the commit by --checksum hits the cache of
    one that named it by tag; and (ours) an unchanged ref hits without fetching, a moved one misses."""
    remote, commits, requests = tagged
    template = """FROM alpine AS src
ADD --keep-git-dir {flag}{remote}#v0.0.2 /repo
RUN head -c 16 /dev/urandom | base64 > /repo/unique.txt

FROM scratch
COPY --from=src /repo/unique.txt /
"""
    first = _ok(root, tmp_path, "one", template.format(flag="", remote=remote))
    second = _ok(root, tmp_path, "two", template.format(flag=f"--checksum={commits['v0.0.2']} ", remote=remote))
    assert (first / "unique.txt").read_text() == (second / "unique.txt").read_text()

    # an unchanged ref: the key is resolved with ls-remote, nothing is fetched
    before = len(requests)
    stderr = build_ok(root, write(tmp_path / "three", {"Dockerfile": template.format(flag="", remote=remote)}))
    assert cached_steps(stderr) >= 2
    assert sum("info/refs" in r for r in requests[before:]) == 1, requests[before:]  # one ls-remote, no fetch
    # the tag moves to a new commit: the ADD and the RUN after it miss
    repo = tmp_path / "srv" / "repo"
    commit(repo, {"foo": "moved\n"}, "moved")
    git(repo, "tag", "-f", "v0.0.2")
    moved = _ok(root, tmp_path, "four", template.format(flag="", remote=remote))
    assert (moved / "unique.txt").read_text() != (first / "unique.txt").read_text()


CONTEXT_DOCKERFILE = """FROM scratch AS withgit
COPY .git/HEAD out

FROM scratch AS withsubmod
COPY submod/file out

FROM scratch
COPY foo out
"""


@pytest.fixture
def query_repo(tmp_path):
    """testGitQueryString's repository: branches base/feature/master, tags v0.0.2/latest,
    a submodule served by a second server."""
    sub = make_repo(tmp_path / "subsrv" / "sub")
    commit(sub, {"file": "123\n"}, "initial")
    with serving(tmp_path / "subsrv") as (sub_url, _):
        repo = make_repo(tmp_path / "srv" / "repo")
        (repo / "foo").write_text("base\n")
        (repo / "Dockerfile").write_text(CONTEXT_DOCKERFILE)
        git(repo, "-c", "protocol.allow=always", "submodule", "add", f"{sub_url}/sub/.git", "submod")
        commit(repo, {}, "initial", "v0.0.1")
        git(repo, "branch", "base")
        commit(repo, {"foo": "feature\n", "sub/foo": "subfeature\n", "sub/Dockerfile": CONTEXT_DOCKERFILE}, "feature")
        git(repo, "branch", "feature")
        git(repo, "checkout", "-q", "-B", "master", "base")
        v2 = commit(repo, {"foo": "v0.0.2\n"}, "v0.0.2", "v0.0.2")
        latest = commit(repo, {"foo": "latest\n"}, "latest", "latest")
        with serving(tmp_path / "srv") as (url, _):
            yield f"{url}/repo/.git", v2, latest


def _query_cases(remote: str, v2: str, latest: str) -> list:
    return [  # (name, url, what to read (foo, .git/HEAD, submod/file), expected output or error)
        ("tag with invalid commit", f"{remote}?tag=v0.0.2&commit={latest}", "foo", "!expected checksum to match"),
        ("old style ref", f"{remote}#v0.0.2", "foo", "v0.0.2\n"),
        ("querystring ref", f"{remote}?ref=base", "foo", "base\n"),
        ("querystring branch", f"{remote}?branch=base", "foo", "base\n"),
        ("querystring invalid branch", f"{remote}?branch=invalid", "foo", "!repository does not contain ref"),
        ("tag as branch", f"{remote}?branch=v0.0.2", "foo", "!repository does not contain ref"),
        ("allowed mixed refs", f"{remote}?tag=v0.0.2#refs/tags/v0.0.2", "foo", "v0.0.2\n"),
        ("v2 by commit", f"{remote}?commit={v2}", "foo", "v0.0.2\n"),
        ("v2 by commit (wrong short)", f"{remote}?commit={v2[:8]}", "foo", "!expected checksum to match"),
        ("v2 by commit (short)", f"{remote}?commit={latest[:8]}", "foo", "latest\n"),
        ("v2 ref by commit", f"{remote}?ref={v2}", "foo", "v0.0.2\n"),
        ("v2 ref by commit (short)", f"{remote}?ref={v2[:8]}", "foo", "!repository does not contain ref"),
        ("tag with commit", f"{remote}?tag=v0.0.2&commit={v2}", "foo", "v0.0.2\n"),
        ("commit with commit", f"{remote}?ref={v2}&commit={v2}", "foo", "v0.0.2\n"),
        ("latest with commit", f"{remote}?commit={latest}", "foo", "latest\n"),
        ("mismatch refs", f"{remote}?tag=v0.0.2#refs/heads/master", "foo", "!ref conflicts"),
        ("sub old-style", f"{remote}#feature:sub", "foo", "subfeature\n"),
        ("sub query", f"{remote}?subdir=sub&ref=feature", "foo", "subfeature\n"),
        ("withgit", f"{remote}?keep-git-dir=true", ".git/HEAD", latest + "\n"),
        ("withgitandtag", f"{remote}?tag=v0.0.2&keep-git-dir=true", ".git/HEAD", v2 + "\n"),
        ("withgit-default", remote, ".git/HEAD", None),
        ("withgit-valueless", f"{remote}?keep-git-dir&submodules", ".git/HEAD", latest + "\n"),
        ("withgit-forbidden", f"{remote}?keep-git-dir=false", ".git/HEAD", None),
        ("withsubmod", remote, "submod/file", "123\n"),
        ("withsubmodset", f"{remote}?submodules=true", "submod/file", "123\n"),
        ("withsubmodempty", f"{remote}?submodules", "submod/file", "123\n"),
        ("withoutsubmod", f"{remote}?submodules=false", "submod/file", None),
    ]


def test_git_query_string(root, tmp_path, query_repo):
    """testGitQueryString, its ADD half: what each URL form gives under /repo."""
    cases = _query_cases(*query_repo)
    for i, (name, url, path, expect) in enumerate(cases):
        ctx = write(tmp_path / f"c{i}", {"Dockerfile": f"FROM scratch\nADD {url} /repo/\n"})
        if expect is not None and expect.startswith("!"):
            err = build_err(root, ctx)
            assert expect[1:] in err, (name, err)
            continue
        out = export(root, ctx, tmp_path / f"o{i}")
        if expect is None:  # BuildKit: the COPY of this path fails with "not found"
            assert not (out / "repo" / path).exists(), name
        else:
            assert (out / "repo" / path).read_text() == expect, name


_TARGETS = {"foo": None, ".git/HEAD": "withgit", "submod/file": "withsubmod"}


def test_git_query_string_context(root, tmp_path, query_repo):
    """testGitQueryString, its build-context half: the repository is the context, its
    Dockerfile builds `out` from the stage the case names."""
    for i, (name, url, path, expect) in enumerate(_query_cases(*query_repo)):
        target = _TARGETS[path]
        res = build(root, url, *(("--target", target) if target else ()), "-o", f"type=local,dest={tmp_path / f'o{i}'}")
        err = res.stderr.decode(errors="replace")
        if expect is None or expect.startswith("!"):
            assert res.returncode != 0 and "Traceback" not in err, (name, err)
            assert (expect[1:] if expect else "not found") in err, (name, err)
            continue
        assert res.returncode == 0, (name, err[-2000:])
        assert (tmp_path / f"o{i}" / "out").read_text() == expect, name
