"""A build context from the network, ported from BuildKit's dockerfile_git_http_test.go: a
git repository (SHA-1 and SHA-256) served by `git http-backend` on 127.0.0.1, a context
tar and a bare Dockerfile served over HTTP."""

from __future__ import annotations

import pytest

from ..git_server import commit, make_repo, serving
from .helpers import LoopbackHTTP, build_err, build_ok, container, needs_root, tar_bytes

pytestmark = needs_root

DOCKERFILE = """FROM busybox AS build
RUN echo -n fromgit > foo
FROM scratch
COPY --from=build foo bar
"""


@container
@pytest.mark.parametrize("fmt", ["sha1", "sha256"])
def test_dockerfile_from_git(root, tmp_path, fmt):
    """testDockerfileFromGitSHA1/SHA256: branch `first` has one COPY, the default branch two."""
    repo = make_repo(tmp_path / "srv" / "repo", fmt)
    commit(repo, {"Dockerfile": DOCKERFILE}, "initial")
    from ..git_server import git

    git(repo, "branch", "first")
    commit(repo, {"Dockerfile": DOCKERFILE + "COPY --from=build foo bar2\n"}, "second")
    with serving(tmp_path / "srv") as (url, _):
        first = tmp_path / "first"
        build_ok(root, f"{url}/repo/.git#first", "-o", f"type=local,dest={first}")
        assert (first / "bar").read_text() == "fromgit" and not (first / "bar2").exists()
        default = tmp_path / "default"
        build_ok(root, f"{url}/repo/.git", "-o", f"type=local,dest={default}")
        assert (default / "bar").read_text() == "fromgit" and (default / "bar2").read_text() == "fromgit"


def test_dockerfile_from_http(root, tmp_path):
    """testDockerfileFromHTTP: the URL is a context tar, -f names the Dockerfile inside it."""
    context = tar_bytes({"mydockerfile": b"FROM scratch\nCOPY foo bar\n", "foo": b"foo-contents"})
    srv = LoopbackHTTP({"/myurl": (context, {"ETag": "1"})})
    try:
        out = tmp_path / "out"
        build_ok(root, f"{srv.url}/myurl", "-f", "mydockerfile", "-o", f"type=local,dest={out}")
        assert (out / "bar").read_text() == "foo-contents"
        # (ours) a URL that is not there is a clear error
        err = build_err(root, f"{srv.url}/missing")
        assert "cannot download the build context" in err
    finally:
        srv.close()


@container
def test_http_dockerfile(root, tmp_path):
    """testHTTPDockerfile: the URL is a bare Dockerfile (an empty context); -f is ignored."""
    srv = LoopbackHTTP({"/df": (b'FROM busybox\nRUN echo -n "foo-contents" > /foo\nFROM scratch\nCOPY --from=0 /foo /foo\n',
                                {})})
    try:
        out = tmp_path / "out"
        build_ok(root, f"{srv.url}/df", "-f", "mydockerfile", "-o", f"type=local,dest={out}")
        assert (out / "foo").read_text() == "foo-contents"
    finally:
        srv.close()
