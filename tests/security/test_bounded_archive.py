"""`cairn load` of a hostile archive: huge or absurd JSON and tar headers are clear errors.

Each load runs in a child under an address-space limit, as in test_bounded_registry.
"""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from tests.security.limits import cairn_limited
from tests.security.test_bounded_tar import _header

SMALL = 200 << 20


def _archive(path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _load(tmp_path, archive):
    return cairn_limited("load", "-i", str(archive), root=tmp_path / "store")


def test_a_60_mb_manifest_json_is_refused_unread(tmp_path):
    evil = tmp_path / "evil.tar"
    _archive(evil, {"manifest.json": b"[" + b"0," * (30 << 20) + b"0]"})
    out = _load(tmp_path, evil)
    assert out.clean_error(), out.stderr
    assert "manifest.json" in out.stderr and "larger than the 4 MiB" in out.stderr
    assert out.max_rss < SMALL, out.max_rss


@pytest.mark.parametrize("typeflag", [b"x", b"L"])
def test_a_2_gib_tar_header_in_the_archive_is_refused_unread(tmp_path, typeflag):
    evil = tmp_path / "evil.tar"
    with open(evil, "wb") as f:  # sparse: the 2 GiB "header body" takes no disk
        f.write(_header(typeflag, 2 << 30))
        f.truncate(512 + (2 << 30) + 1024)
    out = _load(tmp_path, evil)
    assert out.clean_error(), out.stderr
    assert "extension header" in out.stderr and "limited to 1 MiB" in out.stderr
    assert out.max_rss < SMALL, out.max_rss


@pytest.mark.parametrize("manifest", [
    b"[" * 200_000,                                   # nesting json cannot recurse through
    b'[{"Config": 5, "Layers": []}]',                 # a number for a file name
    b'[{"Config": "c.json", "Layers": [["x"]]}]',
    b'[{"Config": "c.json", "Layers": [], "RepoTags": 7}]',
    b'["just a string"]',
])
def test_absurd_manifest_json_is_a_clear_error(tmp_path, manifest):
    evil = tmp_path / "evil.tar"
    _archive(evil, {"manifest.json": manifest, "c.json": b'{"rootfs": {"type": "layers", "diff_ids": []}}'})
    out = _load(tmp_path, evil)
    assert out.returncode != 0 or b"RepoTags" in manifest, out.stderr
    assert "internal error" not in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_an_archive_of_120_000_empty_files_is_refused(tmp_path):
    evil = tmp_path / "evil.tar"
    template = bytearray(_header(b"0", 0, b""))
    template[148:156] = b" " * 8
    base = sum(template)  # the checksum of a header with no name; a name adds its bytes
    with open(evil, "wb") as f:
        for i in range(120_000):
            name = b"f%d" % i
            f.write(name + template[len(name):148] + b"%06o\0 " % (base + sum(name)) + template[156:])
        f.write(b"\0" * 1024)
    out = _load(tmp_path, evil)
    assert out.clean_error(), out.stderr
    assert "more than 100000 files" in out.stderr
    os.unlink(evil)
