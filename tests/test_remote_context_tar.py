"""What `cairn build` sends a remote daemon (CAIRN_HOST) for a Dockerfile the .dockerignore
excludes, as docker's CLI sends it: the Dockerfile and the .dockerignore always go (the daemon
reads them), also from inside an ignored directory, and nothing else that is ignored there."""

from __future__ import annotations

import io
import tarfile

from builder.remote.build import _dockerfile, context_tar


def test_a_dockerfile_in_an_ignored_directory_is_sent_and_only_it(tmp_path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "Dockerfile").write_text("FROM scratch\nCOPY a /a\n")
    (tmp_path / "build" / "secret.key").write_text("TOP SECRET\n")
    (tmp_path / "a").write_text("a\n")
    (tmp_path / ".dockerignore").write_text("build\n")
    path, rel = _dockerfile(str(tmp_path), str(tmp_path / "build" / "Dockerfile"))
    data = b"".join(context_tar(str(tmp_path), path, rel))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = set(tar.getnames())
        assert tar.extractfile(rel).read() == b"FROM scratch\nCOPY a /a\n"
    assert {"a", ".dockerignore", "build/Dockerfile"} <= names
    assert "build/secret.key" not in names and b"TOP SECRET" not in data
