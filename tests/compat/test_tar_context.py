"""`cairn build - < context.tar`, ported from BuildKit's dockerfile_export_test.go
(testTarContext, testTarContextExternalDockerfile): the context as a tar on stdin (plain or
compressed) with its Dockerfile inside, or with `-f` naming a Dockerfile on the host; and a
plain Dockerfile on stdin, built with an empty context (`docker build - < Dockerfile`)."""

from __future__ import annotations

import gzip
import io
import tarfile

import zstandard

from ..conftest import cairn_cli
from .helpers import needs_root, tar_bytes, write

pytestmark = needs_root


def build_stdin(root, data: bytes, *args: str):
    return cairn_cli("build", "--progress", "plain", *args, "-", root=root, stdin=data)


def exported(root, tmp_path, data: bytes, *args: str) -> dict[str, bytes]:
    dest = tmp_path / "out"
    res = build_stdin(root, data, "-o", f"type=local,dest={dest}", *args)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    return {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}


def test_tar_context(root, tmp_path):
    data = tar_bytes({"Dockerfile": b"FROM scratch\nCOPY foo /\n", "foo": b"contents"})
    assert exported(root, tmp_path, data) == {"foo": b"contents"}


def test_compressed_tar_context_and_dockerfile_named_inside(root, tmp_path):
    raw = tar_bytes({"sub/Dockerfile.app": b"FROM scratch\nCOPY foo /bar\n", "foo": b"contents",
                     ".dockerignore": b"ignored\n", "ignored": b"no"})
    for data in (gzip.compress(raw), zstandard.ZstdCompressor().compress(raw)):
        assert exported(root, tmp_path, data, "-f", "sub/Dockerfile.app") == {"bar": b"contents"}


def test_tar_context_external_dockerfile(root, tmp_path):
    dockerfile = write(tmp_path / "df", {"Dockerfile": "FROM scratch\nCOPY foo bar\n"}) / "Dockerfile"
    data = tar_bytes({"foo": b"contents"})
    assert exported(root, tmp_path, data, "-f", str(dockerfile)) == {"bar": b"contents"}


def test_dockerfile_on_stdin_has_an_empty_context(root, tmp_path):
    res = build_stdin(root, b"FROM scratch\nCOPY <<EOF /f\nhi\nEOF\n", "-o", f"type=local,dest={tmp_path / 'o'}")
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert (tmp_path / "o" / "f").read_text() == "hi\n"
    res = build_stdin(root, b"FROM scratch\nCOPY missing /\n")
    assert res.returncode != 0 and b"missing" in res.stderr and b"Traceback" not in res.stderr


def test_stdin_conflicts_are_usage_errors(root, tmp_path):
    res = build_stdin(root, tar_bytes({"Dockerfile": b"FROM scratch\n"}), "-f", "-")
    assert res.returncode == 2 and b"can't use stdin for both" in res.stderr, res.stderr
    dockerfile = write(tmp_path / "df", {"Dockerfile": "FROM scratch\n"}) / "Dockerfile"
    res = build_stdin(root, b"FROM scratch\n", "-f", str(dockerfile))
    assert res.returncode == 2 and b"ambiguous Dockerfile source" in res.stderr, res.stderr
    res = build_stdin(root, tar_bytes({"foo": b"x"}))
    assert res.returncode == 2 and b"has no Dockerfile" in res.stderr, res.stderr


def test_a_corrupt_tar_context_is_a_clear_error(root):
    good = tar_bytes({"Dockerfile": b"FROM scratch\n", "foo": b"x" * 5000})
    for data in (good[:1500], gzip.compress(good)[:-20], b"\x1f\x8b" + bytes(600)):
        res = build_stdin(root, data)
        assert res.returncode != 0 and b"Traceback" not in res.stderr, res.stderr
        assert b"build context from stdin" in res.stderr, res.stderr


def test_pax_tar_context(root, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("Dockerfile", b"FROM scratch\nCOPY . /\n"), ("d/" + "n" * 150, b"long")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    files = exported(root, tmp_path, buf.getvalue())
    assert files["d/" + "n" * 150] == b"long"
