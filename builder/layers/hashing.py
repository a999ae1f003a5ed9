"""Writers that hash what passes through them, so digests come from the same pass."""

from __future__ import annotations

import hashlib

from ..image.digest import Digest


class HashingWriter:
    """A file-like sink that hashes and counts bytes, then passes them on (or drops them)."""

    def __init__(self, sink=None):
        self._hash = hashlib.sha256()
        self._sink = sink
        self.size = 0

    def write(self, data) -> int:
        self._hash.update(data)
        self.size += len(data)
        if self._sink is not None:
            self._sink.write(data)
        return len(data)

    def flush(self) -> None:
        if self._sink is not None and hasattr(self._sink, "flush"):
            self._sink.flush()

    @property
    def digest(self) -> Digest:
        return Digest.from_hash(self._hash)


def tar_digest(path, options=None) -> tuple[Digest, int]:
    """The diff_id and size of a snapshot's tar (tarstream.TarOptions `options`), hashed, not
    written. (Here, not in store.materialize: a step that misses needs no compression or
    extraction code to hash its layer.)"""
    from .tarstream import write_tar

    sink = HashingWriter()
    write_tar(str(path), sink, options)
    return sink.digest, sink.size
