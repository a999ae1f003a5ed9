"""`cairn push`: a stored image to a registry reference, manifest last.

Layers a build made are held uncompressed (their descriptor digest is the diff_id); a
push compresses each once (zstd by default, multi-threaded; gzip for old clients) and
keeps the blob, so a re-push makes the same manifest and sends nothing but HEADs. Layers
pulled compressed are pushed as they are. Each blob is skipped when the registry has it,
mounted from another repository of the same registry when we know one that holds it,
and uploaded otherwise; several at once. The manifest goes up only after every blob.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import oci
from ..digest import Digest
from ..errors import UsageError
from ..reference import Reference
from ..store import images
from ..store.store import Store
from .client import Cancelled, RegistryClient
from .locations import known_repositories, record_locations
from .options import RegistryOptions

COMPRESSIONS = ("zstd", "gzip", "none")


@dataclass(frozen=True)
class PushResult:
    digest: Digest      # the pushed manifest's digest
    size: int           # the manifest's size
    uploaded: int       # blobs sent
    mounted: int        # blobs mounted from another repository
    existing: int       # blobs the registry had already


def _layer_blob(store: Store, layer: images.LayerRecord, compression: str) -> oci.Descriptor:
    desc = layer.descriptor
    if desc.digest != layer.diff_id and store.blobs.has(desc.digest):
        return desc
    from ..layers.materialize import ensure_blob

    return ensure_blob(store, layer.diff_id, compression).descriptor()


def push(store: Store, image: images.ImageRecord, ref: Reference, options: RegistryOptions | None = None,
         compression: str = "zstd", log=lambda line: None) -> PushResult:
    if ref.digest is not None:
        raise UsageError(f"cannot push to a digest reference ({ref.familiar}); give a tag")
    if compression not in COMPRESSIONS:
        raise UsageError(f"unknown compression {compression!r} (use {', '.join(COMPRESSIONS)})")
    manifest, config = images.load_documents(store, image)
    counts = {"exists": 0, "mounted": 0, "uploaded": 0}
    lock = threading.Lock()
    cancel = threading.Event()
    with RegistryClient(ref.domain, options, push_to=ref.path) as client, store.adding():

        def send(desc: oci.Descriptor) -> None:
            mounts = known_repositories(store, ref.domain, desc.digest)
            how = client.upload_blob(ref.path, desc.digest, desc.size, lambda: store.blobs.open(desc.digest),
                                     mounts, cancel)
            with lock:
                counts[how] += 1
            if desc.media_type not in oci.CONFIG_TYPES:
                log(f"{desc.digest.hex[:12]}: {_WORDS[how]}")

        def layer_task(layer: images.LayerRecord) -> oci.Descriptor:
            try:
                desc = _layer_blob(store, layer, compression)
                send(desc)
                return desc
            except Cancelled:
                raise
            except BaseException:
                cancel.set()
                raise

        workers = max(1, min(client.options.parallel, len(image.layers) + 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cairn-push") as pool:
            config_future = pool.submit(send, manifest.config)
            futures = [pool.submit(layer_task, layer) for layer in image.layers]
        errors = [f.exception() for f in [config_future, *futures]
                  if f.exception() is not None and not isinstance(f.exception(), Cancelled)]
        if errors:
            raise errors[0]
        layers = [f.result() for f in futures]
        if layers != list(manifest.layers):
            manifest = oci.Manifest.build(manifest.config, layers, dict(manifest.annotations) or None)
            store.blobs.put(manifest.raw)
        digest = client.put_manifest(ref.path, ref.tag or "latest", manifest.raw, manifest.media_type)
        record_locations(store, ref.repository, [manifest.config.digest, *(d.digest for d in layers)])
    return PushResult(digest, len(manifest.raw), counts["uploaded"], counts["mounted"], counts["exists"])


_WORDS = {"exists": "Layer already exists", "mounted": "Mounted", "uploaded": "Pushed"}
