"""A build context from the network, ported from BuildKit's dockerfile_git_http_test.go: a
git repository (SHA-1 and SHA-256) served by `git http-backend` on 127.0.0.1, a context
tar and a bare Dockerfile served over HTTP."""

from __future__ import annotations

import pytest

from ..git_server import commit, make_repo, serving
from .helpers import LoopbackHTTP, build_err, build_ok, container, needs_root, tar_bytes
from .test_epoch import iso, oci_image

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


def _tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A tar of regular files, each (data, mtime)."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (data, mtime) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_source_date_epoch_context_git(root, tmp_path):
    """testSourceDateEpochContextGit: SOURCE_DATE_EPOCH=context is the commit's time."""
    repo = make_repo(tmp_path / "srv" / "repo")
    commit(repo, {"Dockerfile": "FROM scratch\nCOPY Dockerfile /\n"}, "msg", when=1700000101)
    with serving(tmp_path / "srv") as (url, _):
        _, config, layers = oci_image(root, f"{url}/repo/.git", tmp_path, "--build-arg", "SOURCE_DATE_EPOCH=context")
    assert config["created"] == iso(1700000101) and layers == [{"Dockerfile": 1700000101}]


def test_source_date_epoch_context_http_last_modified(root, tmp_path):
    """testSourceDateEpochContextHTTPLastModified: the Last-Modified of the context tar."""
    newest = 1700000202
    context = _tar({"Dockerfile": (b"FROM scratch\nCOPY foo /\n", newest - 3600), "foo": (b"bar", newest)})
    srv = LoopbackHTTP({"/context.tar": (context, {"Last-Modified": "Tue, 14 Nov 2023 22:16:41 GMT"})})  # 1700000201
    try:
        _, config, layers = oci_image(root, f"{srv.url}/context.tar", tmp_path, "--build-arg", "SOURCE_DATE_EPOCH=context")
    finally:
        srv.close()
    assert config["created"] == iso(1700000201) and layers == [{"foo": 1700000201}]


@container
def test_source_date_epoch_context_http_archive(root, tmp_path):
    """testSourceDateEpochContextHTTPArchive: without Last-Modified, the newest file time in
    the tar; a RUN step sees it as $SOURCE_DATE_EPOCH."""
    newest = 1700000302
    context = _tar({"Dockerfile": (b'FROM busybox\nARG SOURCE_DATE_EPOCH\nRUN echo -n "$SOURCE_DATE_EPOCH" >/epoch\n',
                                   newest - 3600), "foo": (b"bar", newest)})
    srv = LoopbackHTTP({"/context.tar": (context, {})})
    try:
        _, config, layers = oci_image(root, f"{srv.url}/context.tar", tmp_path, "--build-arg", "SOURCE_DATE_EPOCH=context")
        out = tmp_path / "out"
        build_ok(root, f"{srv.url}/context.tar", "--build-arg", "SOURCE_DATE_EPOCH=context", "-o", f"type=local,dest={out}")
    finally:
        srv.close()
    assert config["created"] == iso(newest) and layers[-1]["epoch"] == newest
    assert (out / "epoch").read_text() == str(newest)
