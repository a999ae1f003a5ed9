"""Build outputs as docker buildx writes them, ported from BuildKit's dockerfile_export_test.go
(testTarExporterBasic) and dockerfile_image_test.go (testOCILayoutMultiname): `-o type=tar`
(the final stage's filesystem as a plain tar, to a file or stdout), docker's shorthands
`-o DIR` and `-o -`, and an OCI layout directory listing the image under several names."""

from __future__ import annotations

import io
import json
import tarfile

from ..conftest import cairn_cli
from .helpers import build, build_err, build_ok, needs_root, write

pytestmark = needs_root


def tar_map(data: bytes) -> dict[str, tarfile.TarInfo | bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar:
            out[m.name] = tar.extractfile(m).read() if m.isfile() else m
    return out


def test_tar_output(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY foo foo\nCOPY d /d/\n",
                                 "foo": "data", "d/inner": "in"})
    (ctx / "d" / "link").symlink_to("/etc/passwd")
    build_ok(root, ctx, "-o", f"type=tar,dest={tmp_path / 'out.tar'}")
    files = tar_map((tmp_path / "out.tar").read_bytes())
    assert files["foo"] == b"data" and files["d/inner"] == b"in"
    assert files["d"].isdir() and files["d/link"].issym() and files["d/link"].linkname == "/etc/passwd"
    assert not {"index.json", "manifest.json", "oci-layout"} & files.keys()  # a filesystem, not an image
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in files)


def test_tar_output_is_deterministic_and_holds_the_whole_image(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nCOPY f /etc/added\n", "f": "x"})
    build_ok(root, ctx, "-o", f"type=tar,dest={tmp_path / 'a.tar'}")
    build_ok(root, ctx, "-o", f"type=tar,dest={tmp_path / 'b.tar'}")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    files = tar_map((tmp_path / "a.tar").read_bytes())
    assert files["etc/added"] == b"x" and "root:x:0:0" in files["etc/passwd"].decode()
    assert files["bin/busybox"].startswith(b"\x7fELF")


def test_tar_to_stdout(root, tmp_path):
    """`-o -` and `type=tar,dest=-` write the tar alone on stdout (no image ID after it)."""
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY foo /\n", "foo": "data"})
    for spec in ("-", "type=tar,dest=-", "type=tar"):
        res = build(root, ctx, "-o", spec)
        assert res.returncode == 0, res.stderr.decode()[-2000:]
        assert tar_map(res.stdout) == {"foo": b"data"}, spec


def test_output_dir_shorthand(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY foo /\n", "foo": "data"})
    build_ok(root, ctx, "-o", str(tmp_path / "out"))
    assert (tmp_path / "out" / "foo").read_text() == "data"


def test_bad_outputs_are_usage_errors(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\n"})
    for spec, words in (("type=zip,dest=x", "type must be"), ("dest=x,tar=true", "type is required"),
                        ("type=tar,dest=x,compression=gzip", "no option 'compression'"),
                        ("type=local", "needs dest=DIR"), ("type=oci,tar=false", "needs dest=DIR")):
        res = build(root, ctx, "-o", spec)
        assert res.returncode == 2 and words in res.stderr.decode(), (spec, res.stderr.decode()[-500:])
    res = build(root, ctx, "-o", "-", "-o", "type=oci,dest=-")
    assert res.returncode == 2 and b"only one -o can write to stdout" in res.stderr


def _check_index(index: dict) -> None:
    first, second = index["manifests"]
    assert first["digest"] == second["digest"] and first["size"] == second["size"]
    assert first["mediaType"] == second["mediaType"]
    assert first["annotations"]["io.containerd.image.name"] == "docker.io/org/repo:tag1"
    assert second["annotations"]["io.containerd.image.name"] == "docker.io/org/repo:tag2"
    assert first["annotations"]["org.opencontainers.image.ref.name"] == "tag1"
    assert second["annotations"]["org.opencontainers.image.ref.name"] == "tag2"


def test_oci_layout_multiname(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY <<EOF /foo\nhello\nEOF\n"})
    dest = tmp_path / "layout"
    build_ok(root, ctx, "-o", f'type=oci,dest={dest},tar=false,"name=org/repo:tag1,org/repo:tag2"')
    index = json.loads((dest / "index.json").read_text())
    _check_index(index)
    assert json.loads((dest / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    manifest = json.loads((dest / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    for desc in [manifest["config"], *manifest["layers"]]:
        assert (dest / "blobs" / "sha256" / desc["digest"][7:]).stat().st_size == desc["size"]
    res = build(root, ctx, "-o", 'type=oci,dest=-,"name=org/repo:tag1,org/repo:tag2"')  # the tar variant matches
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    _check_index(json.loads(tar_map(res.stdout)["index.json"]))
    skopeo = __import__("subprocess").run(["skopeo", "inspect", f"oci:{dest}:tag2"], capture_output=True, timeout=60)
    assert skopeo.returncode == 0, skopeo.stderr


def test_oci_output_is_named_by_the_tags(root, tmp_path):
    """buildx names an oci/docker output after the -t tags when name= is not given."""
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY <<EOF /foo\nhello\nEOF\n"})
    build_ok(root, ctx, "-t", "org/repo:tag1", "-t", "org/repo:tag2", "-o", f"type=oci,dest={tmp_path / 'o.tar'}")
    _check_index(json.loads(tar_map((tmp_path / "o.tar").read_bytes())["index.json"]))
    build_ok(root, ctx, "-t", "org/repo:tag1", "-t", "org/repo:tag2", "-o", f"type=docker,dest={tmp_path / 'd.tar'}")
    manifest = json.loads(tar_map((tmp_path / "d.tar").read_bytes())["manifest.json"])
    assert [m["RepoTags"] for m in manifest] == [["org/repo:tag1", "org/repo:tag2"]]
    assert cairn_cli("rmi", "org/repo:tag1", root=root).returncode == 0
    assert cairn_cli("rmi", "org/repo:tag2", root=root).returncode == 0


def test_output_to_a_missing_directory_is_a_clear_error(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\n"})
    err = build_err(root, ctx, "-o", f"type=tar,dest={tmp_path / 'no' / 'such' / 'out.tar'}")
    assert "out.tar" in err or "no" in err


def test_a_tar_is_never_written_to_a_terminal(root, tmp_path):
    """As docker: `-o -` with stdout on a terminal is refused (exit 2) before anything is built."""
    import os
    import pty
    import subprocess
    import sys

    from ..conftest import REPO

    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nCOPY foo /\n", "foo": "data"})
    primary, secondary = pty.openpty()
    try:
        res = subprocess.run([sys.executable, "-m", "builder.cli", "build", "-o", "-", str(ctx)], cwd=REPO,
                             stdout=secondary, stderr=subprocess.PIPE, timeout=120,
                             env={**os.environ, "CAIRN_ROOT": str(root)})
    finally:
        os.close(secondary)
        os.close(primary)
    assert res.returncode == 2 and b"refusing to write a tar to the terminal" in res.stderr, res.stderr
