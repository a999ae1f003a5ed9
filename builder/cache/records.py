"""Cache records in the store's database: key -> the layer a step produced (or "empty":
it made none), with the inputs the key was made from. A record is used only if its layer
is still available: unpacked, as a stored blob, or in a registry known to hold it."""

from __future__ import annotations

import time

from runtime.record import Record, record

from ..image import oci
from ..image.digest import Digest
from ..image.layer import Layer
from ..store import cache_table
from ..store.cache_table import EMPTY
from ..store.store import Store
from .keys import canonical


@record
class Missing(Record):
    """A record whose layer is gone (pruned, lost, deleted by hand) or whose only blob is
    corrupt: rebuild, and say so."""

    diff_id: str
    reason: str = "is gone"


@record
class Hit(Record):
    layer: Layer | None         # None: the step made no layer (a WORKDIR whose directory existed)
    created: float = 0.0        # when the layer was made: its history entry's time (0: unknown)

    @property
    def empty(self) -> bool:
        return self.layer is None


EMPTY_HIT = Hit(None)


def lookup(store: Store, key: str, touched: list[str] | None = None) -> "Hit | Missing | None":
    """The record of `key` as a hit, a missing layer or None; a hit's record is marked used
    now, or its key added to `touched` (marked in one transaction later: touch_all)."""
    row = cache_table.get(store, key)
    if row is None or row.diff_id is None:
        return None
    if row.diff_id == EMPTY:
        hit = EMPTY_HIT
    else:
        diff_id = Digest.parse(row.diff_id)
        blobs = "snapshot" if store.has_snapshot(diff_id) else _blob_status(store, diff_id)
        if blobs in ("snapshot", "good"):
            hit = Hit(Layer(diff_id, oci.Descriptor(oci.OCI_LAYER, diff_id, row.size)), created=row.created)
        else:
            # (only for a layer with no bytes here)
            from ..store.blob_locations import remote_layer

            corrupt = blobs == "corrupt"
            remote = remote_layer(store, diff_id)
            if remote is None:
                return Missing(row.diff_id, "is corrupt" if corrupt else "is gone")
            hit = Hit(Layer(diff_id, remote), created=row.created)
    if touched is None:
        cache_table.touch(store, key)
    else:
        touched.append(key)
    return hit


def touch_all(store: Store, keys: list[str]) -> None:
    """Mark the records of `keys` used now (what lookup left in `touched`)."""
    if keys:
        cache_table.touch_many(store, keys)
        keys.clear()


def _blob_status(store: Store, diff_id: Digest) -> str:
    """"good", "corrupt" or "none": the stored blobs of a layer that has no snapshot.

    A layer held only as a blob is read back before it is trusted; a corrupt blob is
    removed, with its record, so that the step is rebuilt."""
    status = "none"
    for digest, _media_type, _size in store.layer_blobs(diff_id):
        if store.blobs.verify(digest):
            return "good"
        status = "corrupt"
        store.blobs.remove(digest)
        store.forget_layer_blob(diff_id, digest)
    return status


def record_empty(store: Store, key: str, parent: str, inputs: dict, position: str = "") -> None:
    """Remember that the step of `key` makes no layer."""
    cache_table.put(store, key, parent, canonical(inputs), EMPTY, 0, time.time(), position)


def record(store: Store, key: str, parent: str, inputs: dict, diff_id: Digest, size: int,
           position: str = "", created: float | None = None) -> None:
    """Remember the layer the step of `key` made, and when it was made (`created`: now, or
    the time an imported record carries): a cached rebuild gives its history that time."""
    cache_table.put(store, key, parent, canonical(inputs), str(diff_id), size, created or time.time(), position)
