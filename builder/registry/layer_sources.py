"""Where a layer's bytes come from, fetched only when they are needed.

A layer is available as a snapshot (unpacked), as a stored blob, or as a blob that a
registry is known to hold (a lazily pulled base image, a remote cache hit). Builds,
runs and outputs call `ensure_snapshots` / `ensure_blob_local` right before they read
the bytes, so a build whose steps all hit, pushed to the registry that holds its layers,
downloads nothing. A fetched blob is recorded as a layer's only after it was checked to
uncompress to that layer's diff_id (Store.record_layer_blob).
"""

from __future__ import annotations

from ..errors import CairnError
from ..image import oci
from ..image.digest import Digest
from ..store.store import Store


class LayerUnavailable(CairnError):
    """No snapshot, no stored blob, and no registry known to hold the layer."""


def is_available(store: Store, diff_id: Digest) -> bool:
    from ..store.blob_locations import remote_layer

    return store.has_snapshot(diff_id) or bool(store.layer_blobs(diff_id)) or remote_layer(store, diff_id) is not None


def ensure_blob_local(store: Store, desc: oci.Descriptor, registry_options=None, diff_id: Digest | None = None) -> None:
    """Download the blob `desc` from a registry known to hold it, unless the store has it."""
    if store.blobs.has(desc.digest):
        return
    from ..store.blob_locations import all_repositories

    repositories = all_repositories(store, desc.digest)
    if not repositories:
        raise LayerUnavailable(f"blob {desc.digest} is not in the store and no registry is known to hold it")
    from .client import shared
    from .errors import RegistryError

    errors = []
    for repository in repositories:
        domain, _, path = repository.partition("/")
        try:
            with shared(domain, registry_options) as client, store.adding():
                client.fetch_blob(path, desc.digest, desc.size, lambda: store.blobs.writer(desc.digest))
                if diff_id is not None:
                    store.record_layer_blob(diff_id, desc.digest, desc.media_type, desc.size)
            return
        except RegistryError as err:
            errors.append(str(err))
    raise LayerUnavailable(f"blob {desc.digest} could not be fetched: {'; '.join(errors)}")


def ensure_local(store: Store, layers, registry_options=None) -> None:
    """Make every layer readable here (a snapshot or a stored blob), fetching what only a
    registry holds; nothing is unpacked."""
    from ..store.blob_locations import remote_layer

    for layer in layers:
        if store.has_snapshot(layer.diff_id) or store.layer_blobs(layer.diff_id):
            continue
        desc = layer.descriptor
        if desc.digest == layer.diff_id or not desc.digest:
            desc = remote_layer(store, layer.diff_id) or desc
        ensure_blob_local(store, desc, registry_options, layer.diff_id)
        if not store.layer_blobs(layer.diff_id):
            store.record_layer_blob(layer.diff_id, desc.digest, desc.media_type, desc.size)


def ensure_snapshots(store: Store, layers, registry_options=None) -> None:
    """Unpack every layer (objects with .diff_id and .descriptor) that has no snapshot yet;
    all of them are leased first, so no prune removes them while this process uses them."""
    store.lease_snapshots(layer.diff_id for layer in layers)
    for layer in layers:
        if store.has_snapshot(layer.diff_id):
            continue
        from ..startup_gc import resume

        resume()  # (an unpack's work is collected as any command's: builder.startup_gc)
        held = store.layer_blobs(layer.diff_id)
        if held:
            digest, media_type, _ = held[0]
        else:
            desc = layer.descriptor
            if desc.digest == layer.diff_id and not store.blobs.has(desc.digest):
                from ..store.blob_locations import remote_layer

                desc = remote_layer(store, layer.diff_id) or desc
            ensure_blob_local(store, desc, registry_options, layer.diff_id)
            digest, media_type = desc.digest, desc.media_type
        from ..store.materialize import unpack_blob  # (only here: a run of unpacked layers loads no tar code)

        with store.adding():
            unpack_blob(store, digest, media_type, layer.diff_id)
