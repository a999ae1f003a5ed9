"""Content-addressed blob files: `blobs/sha256/<hex>`, verified, fsynced, renamed into place.

A blob file exists only complete and matching its digest: writers stream into a temp
file in `tmp/`, hashing as they go, fsync it, and rename it into place only when the
digest matches. An existing blob is never rewritten.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CairnError
from ..image.digest import Digest
from .tmpnames import make_file


class BlobError(CairnError):
    """A blob that is missing or does not match its digest."""


class BlobWriter:
    """Stream bytes in, then commit() under their digest (or the expected one)."""

    def __init__(self, blobs: "BlobStore", expected: Digest | None = None):
        self._blobs = blobs
        self.expected = expected
        fd, self._tmp = make_file(blobs.tmp_dir, f"{blobs.tmp_prefix}blob-")
        self._file = os.fdopen(fd, "wb", buffering=1 << 20)
        import hashlib  # (here: a store opened to read loads no OpenSSL)

        self._hash = hashlib.sha256()
        self.size = 0
        self._done = False

    def write(self, data) -> int:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def commit(self) -> Digest:
        digest = Digest.from_hash(self._hash)
        try:
            if self.expected is not None and digest != self.expected:
                raise BlobError(f"blob does not match its digest: expected {self.expected}, got {digest}")
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            final = self._blobs.path(digest)
            if final.exists():
                os.unlink(self._tmp)
            else:
                os.rename(self._tmp, final)
                self._blobs.sync_dir()
            self._done = True
            return digest
        finally:
            if not self._done:
                self.abort()

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass
        self._done = True

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._done:
            self.abort()


class BlobStore:
    def __init__(self, blobs_dir: Path, tmp_dir: Path, tmp_prefix: str = ""):
        self.dir = blobs_dir
        self.tmp_dir = tmp_dir
        self.tmp_prefix = tmp_prefix  # the owning process's lease id: prune keeps its temp files
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, digest: Digest) -> Path:
        if digest.algorithm != "sha256":
            raise BlobError(f"unsupported digest algorithm {digest.algorithm}")
        return self.dir / digest.hex

    def has(self, digest: Digest) -> bool:
        return self.path(digest).exists()

    def writer(self, expected: Digest | None = None) -> BlobWriter:
        return BlobWriter(self, expected)

    def put(self, data: bytes, expected: Digest | None = None) -> Digest:
        digest = Digest.of(data)
        if expected is not None and digest != expected:
            raise BlobError(f"blob does not match its digest: expected {expected}, got {digest}")
        if self.has(digest):
            return digest
        with self.writer(digest) as w:
            w.write(data)
            return w.commit()

    def read(self, digest: Digest, verify: bool = True) -> bytes:
        try:
            data = self.path(digest).read_bytes()
        except FileNotFoundError:
            raise BlobError(f"blob {digest} is missing from the store") from None
        if verify and Digest.of(data) != digest:
            raise BlobError(f"blob {digest} is corrupt: its content does not match its digest")
        return data

    def open(self, digest: Digest):
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise BlobError(f"blob {digest} is missing from the store") from None

    def verify(self, digest: Digest) -> bool:
        h = digest.new_hash()
        with self.open(digest) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return h.hexdigest() == digest.hex

    def all(self) -> list[Digest]:
        return sorted(Digest("sha256", p.name) for p in self.dir.iterdir() if len(p.name) == 64)

    def remove(self, digest: Digest) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def sync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
