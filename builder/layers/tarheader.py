"""Fast, deterministic tar headers: ustar, with a PAX extended header only when needed.

Python's tarfile builds each header through several layers of generic code; layers have
tens of thousands of entries, so this encoder writes the same POSIX formats directly.
A PAX header (type `x`, name `././@PaxHeader`) is added for names or link targets that
are long or not ASCII, for numbers too large for ustar's octal fields, and for xattrs.
"""

from __future__ import annotations

import struct

BLOCK = 512
_MAX_ID = 0o7777777
_MAX_SIZE = 0o77777777777
_MAGIC = b"ustar\x0000"


_LAYOUT = struct.Struct("100s8s8s8s12s12s8s1s100s8s64s8s8s167s")


def _ustar(name: bytes, mode: int, uid: int, gid: int, size: int, mtime: int, typeflag: bytes,
           linkname: bytes, devmajor: int, devminor: int) -> bytes:
    header = bytearray(_LAYOUT.pack(
        name, b"%07o\x00" % mode, b"%07o\x00" % uid, b"%07o\x00" % gid, b"%011o\x00" % size,
        b"%011o\x00" % mtime, b"        ", typeflag, linkname, _MAGIC, b"",
        b"%07o\x00" % devmajor, b"%07o\x00" % devminor, b""))
    header[148:156] = b"%06o\x00 " % sum(header)
    return bytes(header)


def _pax_record(key: str, value: bytes) -> bytes:
    payload = b" " + key.encode() + b"=" + value + b"\n"
    length = len(payload) + 1
    while len(str(length)) + len(payload) != length:
        length = len(str(length)) + len(payload)
    return str(length).encode() + payload


def header(name: str, *, mode: int, uid: int = 0, gid: int = 0, size: int = 0, mtime: int = 0,
           typeflag: bytes = b"0", linkname: str = "", devmajor: int = 0, devminor: int = 0,
           pax: dict[str, str] | None = None) -> bytes:
    """The header block(s) for one entry; names are str with surrogate escapes for raw bytes."""
    raw_name = name.encode("utf-8", "surrogateescape")
    raw_link = linkname.encode("utf-8", "surrogateescape")
    records: list[tuple[str, bytes]] = []
    if len(raw_name) > 100 or not raw_name.isascii():
        records.append(("path", raw_name))
        raw_name = raw_name[:100].decode("ascii", "replace").encode("ascii", "replace")[:100]
    if len(raw_link) > 100 or not raw_link.isascii():
        records.append(("linkpath", raw_link))
        raw_link = raw_link[:100].decode("ascii", "replace").encode("ascii", "replace")[:100]
    if uid > _MAX_ID:
        records.append(("uid", str(uid).encode()))
        uid = 0
    if gid > _MAX_ID:
        records.append(("gid", str(gid).encode()))
        gid = 0
    if size > _MAX_SIZE:
        records.append(("size", str(size).encode()))
    for key, value in sorted((pax or {}).items()):
        records.append((key, value.encode("utf-8", "surrogateescape")))
    out = b""
    if records:
        body = b"".join(_pax_record(k, v) for k, v in sorted(records))
        out = _ustar(b"././@PaxHeader", 0o644, 0, 0, len(body), mtime, b"x", b"", 0, 0)
        out += body + b"\0" * ((-len(body)) % BLOCK)
    entry_size = 0 if size > _MAX_SIZE else size
    return out + _ustar(raw_name, mode, uid, gid, entry_size, mtime, typeflag, raw_link, devmajor, devminor)
