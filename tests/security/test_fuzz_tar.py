"""Fuzz the layer tar reader and extraction: real tars (from tarfile, with long names,
PAX records, links, devices) with random bytes overwritten, cut short or spliced, and
random header blocks, read by TarReader and extracted into a temporary directory.
Nothing but the project's own errors may escape, and nothing lands outside the root."""

from __future__ import annotations

import io
import os
import tarfile
import tempfile

from hypothesis import given
from hypothesis import strategies as st

from builder.layers.extract import extract_tar
from builder.layers.tarreader import TarReader
from tests.security.fuzzing import OWN_ERRORS, fuzz_settings

NAMES = st.sampled_from(["a", "b/c", "./d", "../up", "/abs", "a/../../x", "link", ".wh.a", ".wh..wh..opq",
                         "n" * 120, "é/ü", "dir/", "b", "b/c/d"])
ENTRY = st.tuples(NAMES, st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
                                          tarfile.FIFOTYPE, tarfile.CHRTYPE]),
                  NAMES, st.binary(max_size=40), st.dictionaries(
                      st.sampled_from(["SCHILY.xattr.user.k", "mtime", "uid", "size", "path", "linkpath",
                                       "SCHILY.xattr.trusted.x", "gid"]),
                      st.sampled_from(["1", "-1", "1.5", "x", "", "99999999999999999999", "a/b", "nan"]),
                      max_size=2))


def _tar(entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, link, data, pax in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            info.mode = 0o644
            info.pax_headers = {k: v for k, v in pax.items()}
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buf.getvalue()


MUTATION = st.lists(st.tuples(st.integers(0, 1 << 16), st.binary(min_size=1, max_size=12)), max_size=6)


def _mutate(data: bytes, edits, cut: int | None, resum: bool) -> bytes:
    out = bytearray(data)
    for offset, blob in edits:
        if out:
            at = offset % len(out)
            out[at:at + len(blob)] = blob
    if resum:  # make mutated headers pass their checksum, to reach what lies behind it
        for at in range(0, len(out) - 511, 512):
            if out[at + 257:at + 262] == b"ustar":
                out[at + 148:at + 156] = b" " * 8
                out[at + 148:at + 156] = b"%06o\0 " % sum(out[at:at + 512])
    return bytes(out if cut is None else out[:cut])


def _read_and_extract(data: bytes) -> None:
    try:
        for entry in TarReader(io.BytesIO(data)):
            pass
    except OWN_ERRORS:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        os.mkdir(root)
        try:
            extract_tar(io.BytesIO(data), root)
        except OWN_ERRORS:
            pass
        assert sorted(os.listdir(tmp)) == ["root"]  # nothing beside the root


@fuzz_settings(share=2)
@given(st.lists(ENTRY, min_size=1, max_size=5), MUTATION, st.none() | st.integers(0, 1 << 14), st.booleans())
def test_fuzz_mutated_tars(entries, edits, cut, resum):
    _read_and_extract(_mutate(_tar(entries), edits, cut, resum))


@fuzz_settings(share=8)
@given(st.binary(min_size=512, max_size=2048))
def test_fuzz_random_header_blocks(data):
    _read_and_extract(data)
