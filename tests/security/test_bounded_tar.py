"""Hostile layer tars: a tiny .tar.gz whose headers claim gigabytes cannot take the memory.

`cairn import` (and every layer extraction: pull, load, build) reads tars with
builder/layers/tarreader.py; each attack runs in a child under an address-space limit.
"""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from builder.layers.tarreader import TarFormatError, TarReader
from tests.security.limits import cairn_limited

SMALL = 200 << 20


def _header(typeflag: bytes, size: int, name: bytes = b"././@PaxHeader") -> bytes:
    """One ustar header block claiming `size` bytes of body (base-256 when it needs it)."""
    block = bytearray(512)
    block[0:len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = block[116:124] = b"0000000\0"
    block[124:136] = b"%011o\0" % size if size < 8 ** 11 else b"\x80" + size.to_bytes(11, "big")
    block[136:148] = b"00000000000\0"
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def _gz_zeros(total: int) -> bytes:
    """`total` zero bytes as concatenated gzip members of 1 MiB each (a few KB on disk)."""
    member = gzip.compress(b"\0" * (1 << 20), 9, mtime=0)
    return member * (total >> 20)


@pytest.mark.parametrize("typeflag", [b"x", b"g", b"L", b"K"])
def test_a_2_gib_extension_header_in_a_tiny_tar_gz_is_refused(tmp_path, typeflag):
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(gzip.compress(_header(typeflag, 2 << 30), mtime=0) + _gz_zeros(2 << 30))
    assert evil.stat().st_size < 8 << 20
    out = cairn_limited("import", str(evil), "evil:1", root=tmp_path / "store")
    assert out.clean_error(), out.stderr
    assert "header" in out.stderr and "limited to 1 MiB" in out.stderr
    assert out.max_rss < SMALL, out.max_rss


def _tar(*parts: bytes) -> io.BytesIO:
    data = b"".join(parts)
    return io.BytesIO(data + b"\0" * ((-len(data)) % 512) + b"\0" * 1024)


def _pax(records: dict[str, str]) -> bytes:
    info = tarfile.TarInfo("f")
    info.pax_headers = records
    return info.tobuf(tarfile.PAX_FORMAT)


def test_many_extension_headers_for_one_entry_add_up_to_the_cap():
    body = b"x" * (600 << 10)  # three of these pass the 1 MiB cap
    chunk = _header(b"L", len(body)) + body + b"\0" * ((-len(body)) % 512)
    with pytest.raises(TarFormatError, match="limited to"):
        list(TarReader(_tar(chunk * 3)))


@pytest.mark.parametrize("records,match", [
    ({"size": "12x"}, "bad PAX size"),
    ({"size": "-5"}, "out of range"),
    ({"uid": str(1 << 40)}, "out of range"),
    ({"mtime": "nan"}, "bad PAX mtime"),
    ({"mtime": "1e300"}, "out of range"),
    ({"path": "a\0b"}, "NUL"),
    ({"SCHILY.xattr.user.a\0b": "v"}, "NUL"),
])
def test_absurd_pax_values_are_format_errors(records, match):
    with pytest.raises(TarFormatError, match=match):
        list(TarReader(_tar(_pax(records))))


def test_ordinary_long_names_and_xattrs_still_read():
    records = {"path": "d/" + "n" * 5000, "SCHILY.xattr.user.k": "v" * 60000, "mtime": "1700000000.5"}
    [entry] = list(TarReader(_tar(_pax(records))))
    assert entry.name == records["path"] and entry.mtime == 1700000000
    assert entry.pax_headers["SCHILY.xattr.user.k"] == records["SCHILY.xattr.user.k"]
