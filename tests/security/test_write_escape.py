"""Issue #13, findings 1, 2, 3 and 14: a Dockerfile, its context or an image tries to write
to (or read) the host through links. Each test aims at a host "sentinel" directory outside
the context and the store, and checks its fingerprint is unchanged afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..conftest import cairn_cli, imported_store
from ..static_http import serving
from .sentinel import fingerprint

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "escapestore")


def build(root, ctx: Path, *args):
    return cairn_cli("build", "--progress", "plain", *args, str(ctx), root=root)


def out_tree(root, ctx: Path, dest: Path, *args):
    """Build and export the final filesystem to dest (-o type=local)."""
    return build(root, ctx, "-o", f"type=local,dest={dest}", *args)


def context(path: Path, dockerfile: str, files: dict[str, str] | None = None,
            links: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    for name, target in (links or {}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path / name)
    return path


def test_copy_from_stage_through_a_link_an_earlier_source_made(root, tmp_path, host):
    ctx = context(tmp_path / "ctx", (
        "FROM busybox:local AS s\n"
        f"RUN mkdir -p /d1 /d2/sub && ln -s {host}/dir /d1/sub && echo x > /d2/sub/evil\n"
        "FROM busybox:local\n"
        "COPY --from=s /d1 /d2 /dst/\n"))
    res = build(root, ctx)
    assert not (host / "dir" / "evil").exists()
    assert res.returncode != 0 and b"cannot copy to non-directory" in res.stderr, res.stderr


def test_copy_from_context_through_a_link_an_earlier_source_made(root, tmp_path, host):
    ctx = context(tmp_path / "ctx", "FROM busybox:local\nCOPY d1 d2 /dst/\n",
                  files={"d2/sub/evil": "x"}, links={"d1/sub": f"{host}/dir"})
    res = build(root, ctx)
    assert not (host / "dir" / "evil").exists()
    assert res.returncode != 0 and b"cannot copy to non-directory" in res.stderr, res.stderr


def test_heredoc_over_a_link_replaces_the_link(root, tmp_path, host):
    ctx = context(tmp_path / "ctx", "FROM busybox:local\nCOPY d1 <<victim /dst/\npwned\nvictim\n",
                  links={"d1/victim": f"{host}/victim"})
    dest = tmp_path / "out"
    res = out_tree(root, ctx, dest)
    assert res.returncode == 0, res.stderr
    assert (dest / "dst" / "victim").read_text() == "pwned\n" and not (dest / "dst" / "victim").is_symlink()


def test_add_url_over_a_link_replaces_the_link(root, tmp_path, host):
    served = tmp_path / "served"
    served.mkdir()
    (served / "victim").write_text("downloaded\n")

    with serving(served) as base:
        url = f"{base}/victim"
        ctx = context(tmp_path / "ctx", f"FROM busybox:local\nADD d1 {url} /dst/\n",
                      links={"d1/victim": f"{host}/victim"})
        dest = tmp_path / "out"
        res = out_tree(root, ctx, dest)
        assert res.returncode == 0, res.stderr
        assert (dest / "dst" / "victim").read_text() == "downloaded\n"


def test_a_context_link_to_the_host_names_the_contexts_own_root(root, tmp_path, host):
    """COPY of a link pointing at a host path copies what the context holds at that path."""
    ctx = context(tmp_path / "ctx", "FROM busybox:local\nCOPY hostfile /got\n",
                  links={"hostfile": f"{host}/victim"})
    res = build(root, ctx)
    assert res.returncode != 0 and b"host data" not in res.stderr
    inside = Path(str(ctx) + str(host))
    inside.mkdir(parents=True)
    (inside / "victim").write_text("context copy\n")
    dest = tmp_path / "out"
    res = out_tree(root, ctx, dest)
    assert res.returncode == 0, res.stderr
    assert (dest / "got").read_text() == "context copy\n"


def test_add_archive_through_a_context_link_does_not_read_the_host(root, tmp_path, host):
    import tarfile

    with tarfile.open(host / "secret.tar", "w") as tar:
        info = tarfile.TarInfo("from-host")
        tar.addfile(info)
    before = fingerprint(host)
    ctx = context(tmp_path / "ctx", "FROM busybox:local\nADD a.tar /x/\n", links={"a.tar": f"{host}/secret.tar"})
    dest = tmp_path / "out"
    out_tree(root, ctx, dest)
    assert not (dest / "x" / "from-host").exists()
    assert fingerprint(host) == before
    (host / "secret.tar").unlink()


def test_bind_mount_of_a_context_link_to_the_host_root(root, tmp_path, host):
    ctx = context(tmp_path / "ctx", (
        "FROM busybox:local\n"
        f"RUN --mount=type=bind,source=hostroot,target=/h,rw sh -c 'echo x > /h{host}/evil; "
        f"echo y > /h{host}/victim; true'\n"), links={"hostroot": "/"})
    build(root, ctx)
    assert not (host / "evil").exists()


def test_bind_mount_source_outside_the_context_is_refused(root, tmp_path, host):
    sibling = tmp_path / "ctx-sibling"
    sibling.mkdir()
    (sibling / "secret").write_text("sibling\n")
    ctx = context(tmp_path / "ctx", (
        "FROM busybox:local\n"
        "RUN --mount=type=bind,source=../ctx-sibling,target=/s cat /s/secret\n"))
    res = build(root, ctx)
    assert res.returncode != 0 and b"sibling\n" not in res.stdout + res.stderr.replace(b"ctx-sibling", b"")


def test_bind_mount_from_a_stage_cannot_climb_out(root, tmp_path, host):
    """`..` and links in a from= source stay inside the stage: they name the stage's own
    copy of the host path, never the host's."""
    ctx = context(tmp_path / "ctx", (
        "FROM busybox:local AS s\n"
        f"RUN ln -s / /up && mkdir -p {host} && echo stage-data > {host}/victim\n"
        "FROM busybox:local\n"
        f"RUN --mount=from=s,source=../../../../../../../..{host},target=/h cat /h/victim\n"
        f"RUN --mount=from=s,source=up{host},target=/h,rw sh -c 'cat /h/victim; echo x > /h/evil'\n"))
    res = build(root, ctx)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count(b" stage-data\n") == 2 and b"host data" not in res.stdout + res.stderr
    assert not (host / "evil").exists()


def test_rw_bind_of_the_context_discards_writes(root, tmp_path, host):
    ctx = context(tmp_path / "ctx", (
        "FROM busybox:local\n"
        "RUN --mount=type=bind,target=/c,rw sh -c 'echo changed > /c/file; touch /c/new; rm /c/gone'\n"
        "RUN --mount=type=bind,target=/c sh -c 'cat /c/file; test ! -e /c/new; test -e /c/gone'\n"),
        files={"file": "original\n", "gone": ""})
    res = build(root, ctx)
    assert res.returncode == 0, res.stderr
    assert (ctx / "file").read_text() == "original\n" and (ctx / "gone").exists() and not (ctx / "new").exists()


def test_bind_mount_honours_dockerignore(root, tmp_path, host):
    ctx = context(tmp_path / "ctx", (
        "FROM busybox:local\n"
        "RUN --mount=type=bind,target=/c sh -c 'test ! -e /c/secret.env && test ! -e /c/sub/key && test -e /c/app'\n"),
        files={"secret.env": "TOKEN=1", "sub/key": "k", "app": "a", ".dockerignore": "*.env\nsub/key\n"})
    res = build(root, ctx)
    assert res.returncode == 0, res.stderr


def test_cache_mount_id_cannot_name_the_store(root, tmp_path, host):
    ctx = context(tmp_path / "ctx", (
        "FROM busybox:local\n"
        "RUN --mount=type=cache,id=..,target=/x sh -c 'ls -a /x > /listing; touch /x/planted'\n"
        "RUN --mount=type=cache,id=../../..,target=/y touch /y/planted2\n"
        "RUN cat /listing\n"))
    res = build(root, ctx)
    assert res.returncode == 0, res.stderr
    assert b"cairn.db" not in res.stdout + res.stderr
    for dirpath, _dirs, files in os.walk(root):
        if "cache-mounts" in dirpath:
            continue
        assert "planted" not in files and "planted2" not in files, dirpath
    assert not (Path(root).parent / "planted2").exists()


def test_run_volume_through_an_image_link_writes_nothing_in_the_host_dir(root, tmp_path, host):
    ctx = context(tmp_path / "ctx", "FROM busybox:local\nCOPY data /data\n", links={"data": "/"})
    res = build(root, ctx, "-t", "linkdata")
    assert res.returncode == 0, res.stderr
    res = cairn_cli("run", "--rm", "--network", "none", "-v", f"{host}/dir:/data", "linkdata", "true", root=root)
    assert res.returncode in (0, 125)
    assert not (host / "dir" / "etc").exists()
