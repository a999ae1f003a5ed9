"""Turns a layer from one form into the other, once, and keeps what it made.

- `snapshot_from_stream`: unpack a tar stream into a new snapshot; its diff_id is the
  digest of our deterministic tar of that snapshot (what `import` and builds use).
- `unpack_blob`: unpack a stored blob into the snapshot for a known diff_id, checking
  that the uncompressed stream really hashes to it.
- `tar_digest`: the diff_id and size of a snapshot's tar, hashed, not written.
- `ensure_blob`: a blob for a diff_id in the compression asked for, made from a blob we
  already hold (re-compressed) or else from the snapshot.

A snapshot's tar is written again only with the SOURCE_DATE_EPOCH the store recorded
with it (the one its diff_id was hashed with), never the environment's: the bytes are a
function of the snapshot and that record alone, so they hash to the diff_id again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from ..errors import CairnError
from ..image import oci
from ..image.digest import Digest
from ..layers.compression import DECOMPRESS_ERRORS, MEDIA_TYPES, compressor, decompressed
from ..layers.extract import LayerError, extract_tar
from ..layers.hashing import HashingWriter, tar_digest
from ..layers.pipeline import ThreadedWriter
from ..layers.tarstream import TarOptions, write_tar
from .blobs import BlobError
from .store import Store, remove_tree

_CHUNK = 1 << 20


@dataclass(frozen=True)
class LayerBlob:
    diff_id: Digest
    digest: Digest
    media_type: str
    size: int

    def descriptor(self) -> oci.Descriptor:
        return oci.Descriptor(self.media_type, self.digest, self.size)


class _HashingReader:
    """Reads from a stream while hashing what it reads (for diff_id checks)."""

    def __init__(self, stream):
        self._s = stream
        self._h = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._s.read(n)
        self._h.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    @property
    def digest(self) -> Digest:
        return Digest.from_hash(self._h)


def snapshot_from_stream(store: Store, stream, options: TarOptions | None = None) -> tuple[Digest, int]:
    """Unpack a tar stream into a new snapshot; returns (diff_id, tar size)."""
    tmp = store.new_tmp_dir()
    try:
        extract_tar(stream, str(tmp))
        os.chmod(tmp, 0o755)
        diff_id, size = tar_digest(tmp, options)
        store.commit_snapshot(tmp, diff_id, size, options.source_date_epoch if options else None)
        return diff_id, size
    except BaseException:
        remove_tree(tmp)
        raise


def unpack_blob(store: Store, blob: Digest, media_type: str, diff_id: Digest) -> None:
    """Make the snapshot for `diff_id` from a stored blob, unless it exists already."""
    if store.has_snapshot(diff_id):
        return
    tmp = store.new_tmp_dir()
    try:
        with store.blobs.open(blob) as raw:
            reader = _HashingReader(decompressed(raw, media_type))
            try:
                extract_tar(reader, str(tmp))
                reader.drain()
            except DECOMPRESS_ERRORS as err:
                raise LayerError(f"layer {blob} cannot be decompressed: {err}") from None
        if reader.digest != diff_id:
            raise LayerError(f"layer {blob} does not match its diff_id: expected {diff_id}, got {reader.digest}")
        os.chmod(tmp, 0o755)
        store.commit_snapshot(tmp, diff_id, reader.size)
    except BaseException:
        remove_tree(tmp)
        raise


class _Tee:
    def __init__(self, first, second):
        self._first, self._second = first, second

    def write(self, data) -> int:
        self._first.write(data)
        self._second.write(data)
        return len(data)


def ensure_blob(store: Store, diff_id: Digest, compression: str = "zstd", copy_to=None) -> LayerBlob:
    """A stored blob of the layer `diff_id` compressed as asked ("zstd", "gzip" or "none").

    When the blob is made here, its bytes also go to `copy_to.write()` as they are made
    (a push streams them to the registry while they are compressed)."""
    media_type = MEDIA_TYPES[compression]
    held = store.layer_blobs(diff_id)
    for digest, mt, size in held:
        if mt == media_type or (oci.LAYER_COMPRESSION.get(mt) == compression):
            return LayerBlob(diff_id, digest, mt, size)
    if compression == "none" and store.blobs.has(diff_id):
        size = store.blobs.path(diff_id).stat().st_size
        store.record_layer_blob(diff_id, diff_id, media_type, size, verified=True)  # named by its own hash
        return LayerBlob(diff_id, diff_id, media_type, size)
    with store.blobs.writer() as out:
        comp = compressor(compression, out if copy_to is None else _Tee(out, copy_to))
        write_layer_tar(store, diff_id, comp)
        comp.close()
        digest = out.commit()
        size = out.size
    store.record_layer_blob(diff_id, digest, media_type, size, verified=True)  # made from diff_id, checked
    return LayerBlob(diff_id, digest, media_type, size)


def layer_tar_size(store: Store, diff_id: Digest) -> int:
    """The size of a layer's uncompressed tar, known without reading it."""
    size = store.snapshot_size(diff_id)
    if size is not None:
        return size
    for digest, mt, blob_size in store.layer_blobs(diff_id):
        if oci.LAYER_COMPRESSION.get(mt) == "none":
            return blob_size
    sink = HashingWriter()
    write_layer_tar(store, diff_id, sink)
    return sink.size


def write_layer_tar(store: Store, diff_id: Digest, out) -> int:
    """Write a layer's uncompressed tar to `out`, checking it hashes to diff_id; returns its size."""
    sink = HashingWriter(out)
    held = store.layer_blobs(diff_id)
    if held:
        digest, mt, _ = held[0]
        with store.blobs.open(digest) as raw:
            src = decompressed(raw, mt)
            while chunk := src.read(_CHUNK):
                sink.write(chunk)
    elif store.has_snapshot(diff_id):
        from ..layers.tarstream import TAR_FORMAT

        if store.tar_format() != TAR_FORMAT:
            raise CairnError(f"layer {diff_id} exists only as a snapshot written by another cairn version "
                             f"(layer format {store.tar_format()}, this one writes {TAR_FORMAT}); "
                             "import or build the image again")
        # Hashing and compressing run in a worker thread while this one reads the tree.
        worker = ThreadedWriter(sink)
        try:
            write_tar(str(store.snapshot_path(diff_id)), worker, TarOptions(store.snapshot_epoch(diff_id)))
        finally:
            worker.close()
    else:
        raise BlobError(f"layer {diff_id} is neither unpacked nor stored as a blob")
    if sink.digest != diff_id:
        raise CairnError(f"layer {diff_id} could not be reproduced (got {sink.digest})")
    return sink.size
