"""Layer compression: zstd (multi-threaded, the default) and gzip, in both directions."""

from __future__ import annotations

import gzip
import zlib

import zstandard

from ..errors import CairnError
from ..image import oci

MEDIA_TYPES = {"zstd": oci.OCI_LAYER_ZSTD, "gzip": oci.OCI_LAYER_GZIP, "none": oci.OCI_LAYER}


class _GzipWriter:
    """Deterministic gzip (no name, mtime 0) with a flush-free write path."""

    def __init__(self, sink, level: int):
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=sink, compresslevel=level, mtime=0)

    def write(self, data) -> int:
        return self._gz.write(data)

    def close(self) -> None:
        self._gz.close()


class _ZstdWriter:
    def __init__(self, sink, level: int):
        cctx = zstandard.ZstdCompressor(level=level, threads=-1, write_checksum=True)
        self._w = cctx.stream_writer(sink, closefd=False)

    def write(self, data) -> int:
        return self._w.write(data)

    def close(self) -> None:
        self._w.close()


class _Plain:
    def __init__(self, sink):
        self._sink = sink

    def write(self, data) -> int:
        return self._sink.write(data)

    def close(self) -> None:
        pass


def compressor(kind: str, sink, level: int | None = None):
    """A writer that compresses into `sink`; call close() to finish the stream."""
    if kind == "zstd":
        return _ZstdWriter(sink, 3 if level is None else level)
    if kind == "gzip":
        return _GzipWriter(sink, 6 if level is None else level)
    if kind == "none":
        return _Plain(sink)
    raise CairnError(f"unknown compression {kind!r} (use zstd, gzip or none)")


def decompressed(stream, media_type: str):
    """A readable stream of the uncompressed tar inside a layer blob of `media_type`."""
    kind = oci.LAYER_COMPRESSION.get(media_type)
    if kind is None:
        raise CairnError(f"unsupported layer media type {media_type!r}")
    return decompressed_by_kind(stream, kind)


def decompressed_by_kind(stream, kind: str):
    if kind == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    return stream


def open_decompressed(path) -> tuple[object, str]:
    """Open a file that may be gzip, zstd, xz or bzip2 compressed: (readable stream, kind)."""
    try:
        f = open(path, "rb")
    except OSError as err:
        raise CairnError(f"cannot read {path}: {err.strerror}") from None
    kind = sniff(f.read(6))
    f.seek(0)
    if kind == "xz":
        import lzma

        return lzma.open(f), kind
    if kind == "bzip2":
        import bz2

        return bz2.open(f), kind
    return decompressed_by_kind(f, kind), kind


def sniff(head: bytes) -> str:
    """The compression of a blob from its first bytes: zstd, gzip, bzip2, xz or none."""
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return "none"


DECOMPRESS_ERRORS = (zstandard.ZstdError, zlib.error, gzip.BadGzipFile, EOFError, OSError)
# lzma.LZMAError and bz2's OSError are OSError or covered by it.
