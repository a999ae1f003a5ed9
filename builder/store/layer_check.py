"""Checking that a blob really is a (compressed) tar of the layer it is recorded for.

A record "diff_id -> blob" lets a push send that blob for every image holding the layer,
so it is written only once the blob's uncompressed bytes hash to the diff_id. Pulled
images, cache sources and archives are untrusted: their configs may name a diff_id that
belongs to another image's layer.
"""

from __future__ import annotations

import hashlib

from ..image.digest import Digest
from .blobs import BlobError

_CHUNK = 1 << 20


class LayerMismatch(BlobError):
    """A blob whose uncompressed content is not the layer it was claimed to be."""


def uncompressed_digest(store, blob: Digest, media_type: str) -> Digest:
    """The sha256 of the blob's uncompressed bytes (its diff_id, if it is a layer)."""
    from ..layers.compression import DECOMPRESS_ERRORS, decompressed

    h = hashlib.sha256()
    with store.blobs.open(blob) as raw:
        try:
            stream = decompressed(raw, media_type)
            while chunk := stream.read(_CHUNK):
                h.update(chunk)
        except DECOMPRESS_ERRORS as err:
            raise LayerMismatch(f"layer {blob} cannot be decompressed: {err}") from None
    return Digest.from_hash(h)


def check_layer_blob(store, diff_id: Digest, blob: Digest, media_type: str) -> None:
    """Raise LayerMismatch unless `blob` uncompresses to the layer `diff_id`."""
    got = uncompressed_digest(store, blob, media_type)
    if got != diff_id:
        raise LayerMismatch(f"layer {blob} does not match its diff_id: expected {diff_id}, got {got}")
