"""A streaming tar reader for layers: ustar, PAX (`x`, `g`) and GNU long names (`L`, `K`).

tarfile's generic streaming mode costs more than the extraction itself on layers with
many small files; this reads the stream in large chunks and parses headers directly.
Checksums are verified; a short read anywhere is reported as a truncated tar.

Layers come from anyone, so headers are read under caps: an extension header (PAX, GNU
long name or link) is at most MAX_HEADER bytes, and so are all of those that precede one
entry, and all global PAX headers together; numbers must fit what the system takes (ids
and device numbers 32 bits, sizes and times 64), and names hold no NUL. A 2 MB .tar.gz
that claims a 2 GiB header is refused before one byte of that header is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import CairnError

BLOCK = 512
_CHUNK = 1 << 20
REGULAR_TYPES = (b"0", b"\0", b"7")
MAX_HEADER = 1 << 20  # Go's archive/tar caps these the same way
_EXTENSIONS = {b"x": "PAX", b"g": "global PAX", b"L": "GNU long name", b"K": "GNU long link"}
_U32, _I64 = (0, (1 << 32) - 1), (-(1 << 63), (1 << 63) - 1)


class TarFormatError(CairnError):
    """A tar that is corrupt, truncated, or beyond what the reader accepts."""


@dataclass(slots=True)
class Entry:
    name: str
    type: bytes
    mode: int = 0
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    pax_headers: dict = field(default_factory=dict)

    def isreg(self) -> bool:
        return self.type in REGULAR_TYPES

    def isdir(self) -> bool:
        return self.type == b"5"

    def issym(self) -> bool:
        return self.type == b"2"

    def islnk(self) -> bool:
        return self.type == b"1"

    def ischr(self) -> bool:
        return self.type == b"3"

    def isblk(self) -> bool:
        return self.type == b"4"

    def isfifo(self) -> bool:
        return self.type == b"6"


def _number(field_bytes: bytes) -> int:
    if field_bytes and field_bytes[0] & 0x80:  # GNU base-256
        value = int.from_bytes(field_bytes[1:], "big")
        if field_bytes[0] == 0xFF:
            value -= 1 << (8 * (len(field_bytes) - 1))
        return value
    text = field_bytes.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise TarFormatError(f"bad number field {field_bytes!r} in tar header") from None


def _text(field_bytes: bytes) -> str:
    return field_bytes.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _parse_pax(data: bytes) -> dict[str, str]:
    out = {}
    pos = 0
    while pos < len(data):
        sp = data.find(b" ", pos)
        if sp == -1:
            break
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise TarFormatError("bad PAX header record") from None
        if length <= 0 or pos + length > len(data):
            raise TarFormatError("bad PAX header record length")
        record = data[sp + 1: pos + length - 1]
        key, eq, value = record.partition(b"=")
        if eq:
            if b"\0" in key:
                raise TarFormatError("a PAX header key holds a NUL byte")
            out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _bounded(value: int, what: str, bounds: tuple[int, int]) -> int:
    if not bounds[0] <= value <= bounds[1]:
        raise TarFormatError(f"tar header {what} {value} is out of range")
    return value


def _pax_number(merged: dict, key: str, header_value: int, bounds: tuple[int, int]) -> int:
    """A number from the PAX record `key` if present (mtime may have a fraction), else the header's."""
    if key not in merged:
        return _bounded(header_value, key, bounds)
    text = merged[key]
    try:
        value = int(float(text)) if key == "mtime" else int(text, 10)
    except (ValueError, OverflowError):
        raise TarFormatError(f"bad PAX {key} {text[:50]!r}") from None
    return _bounded(value, key, bounds)


def _name(text: str, what: str) -> str:
    if "\0" in text:
        raise TarFormatError(f"a tar entry's {what} holds a NUL byte")
    return text


class TarReader:
    def __init__(self, stream):
        self._stream = stream
        self._buf = b""
        self._pos = 0
        self._left_in_entry = 0  # data bytes of the current entry not yet consumed
        self._global: dict[str, str] = {}

    def _fill(self, need: int) -> bool:
        """Make `need` bytes available at _pos; False at a clean end of stream."""
        have = len(self._buf) - self._pos
        if have >= need:
            return True
        parts = [self._buf[self._pos:]]
        while have < need:
            chunk = self._stream.read(max(_CHUNK, need - have))
            if not chunk:
                self._buf, self._pos = b"".join(parts), 0
                return False
            parts.append(chunk)
            have += len(chunk)
        self._buf, self._pos = b"".join(parts), 0
        return True

    def _take(self, n: int) -> bytes:
        if not self._fill(n):
            raise TarFormatError("unexpected end of data: the tar is truncated")
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        return out

    def data(self, entry: Entry):
        """Yield the entry's content as memoryview chunks (consume before the next entry)."""
        left = self._left_in_entry
        while left > 0:
            if not self._fill(1):
                raise TarFormatError(f"unexpected end of data in {entry.name!r}: the tar is truncated")
            avail = min(left, len(self._buf) - self._pos)
            yield memoryview(self._buf)[self._pos:self._pos + avail]
            self._pos += avail
            left -= avail
            self._left_in_entry = left

    def _skip_data(self) -> None:
        for _ in self.data(Entry("", b"0")):
            pass

    def __iter__(self):
        pax: dict[str, str] = {}
        long_name = long_link = None
        pending = 0  # bytes of extension headers read for the coming entry
        while True:
            self._skip_data()
            if self._pad:
                self._take(self._pad)
                self._pad = 0
            if not self._fill(BLOCK):
                if len(self._buf) - self._pos == 0 and self._seen_any:
                    return  # end without the zero blocks: accepted, as tar does
                raise TarFormatError("unexpected end of data: the tar is truncated or empty")
            header = self._take(BLOCK)
            if header == b"\0" * BLOCK:
                return
            self._seen_any = True
            stored = _number(header[148:156])
            unsigned = sum(header[:148]) + 256 + sum(header[156:])
            if stored != unsigned and stored != _signed_sum(header):
                raise TarFormatError("tar header checksum mismatch: the tar is corrupt")
            typeflag = header[156:157]
            size = _number(header[124:136])
            if typeflag in _EXTENSIONS:
                pending, kind = pending + size, _EXTENSIONS[typeflag]
                if typeflag == b"g":
                    self._global_bytes += size
                if not 0 <= size <= MAX_HEADER or pending > MAX_HEADER or self._global_bytes > MAX_HEADER:
                    raise TarFormatError(f"a {kind} header of {size} bytes: extension headers are "
                                         f"limited to {MAX_HEADER >> 20} MiB")
                body = self._take(size)
                self._take((-size) % BLOCK)
                if typeflag == b"x":
                    pax.update(_parse_pax(body))
                elif typeflag == b"g":
                    self._global.update(_parse_pax(body))
                elif typeflag == b"L":
                    long_name = body.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                else:
                    long_link = body.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                continue
            if typeflag not in (b"0", b"\0", b"1", b"2", b"3", b"4", b"5", b"6", b"7"):
                raise TarFormatError(f"unsupported tar entry type {typeflag!r}")
            merged = {**self._global, **pax} if self._global else pax
            name = _text(header[0:100])
            if header[257:263] in (b"ustar\x00", b"ustar ") and header[345] != 0:
                prefix = _text(header[345:500])
                if prefix:
                    name = prefix + "/" + name
            entry = Entry(
                name=_name(merged.get("path") or long_name or name, "name"),
                type=typeflag,
                mode=_bounded(_number(header[100:108]), "mode", _U32),
                uid=_pax_number(merged, "uid", _number(header[108:116]), _U32),
                gid=_pax_number(merged, "gid", _number(header[116:124]), _U32),
                size=_pax_number(merged, "size", size, (0, _I64[1])),
                mtime=_pax_number(merged, "mtime", _number(header[136:148]), _I64),
                linkname=_name(merged.get("linkpath") or long_link or _text(header[157:257]), "link target"),
                devmajor=_bounded(_number(header[329:337]), "devmajor", _U32),
                devminor=_bounded(_number(header[337:345]), "devminor", _U32),
                pax_headers=dict(merged),
            )
            pax, long_name, long_link, pending = {}, None, None, 0
            data_size = entry.size if entry.type in REGULAR_TYPES else 0
            self._left_in_entry = data_size
            self._pad = (-data_size) % BLOCK
            yield entry

    _pad = 0
    _seen_any = False
    _global_bytes = 0


def _signed_sum(header: bytes) -> int:
    total = 0
    for i, b in enumerate(header):
        if 148 <= i < 156:
            total += 32
        else:
            total += b - 256 if b > 127 else b
    return total
