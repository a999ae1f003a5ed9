"""`cairn push`: a stored image to a registry reference, manifest last.

Layers a build made are held uncompressed (their descriptor digest is the diff_id); a
push compresses each once (zstd by default, multi-threaded; gzip for old clients),
streaming the compressed bytes to the registry as they are made, and keeps the blob, so
a re-push makes the same manifest and sends nothing but HEADs. Layers
pulled compressed are pushed as they are. Each blob is skipped when the registry has it,
mounted from another repository of the same registry when we know one that holds it,
and uploaded otherwise; several at once. The manifest goes up only after every blob.
A blob is sent for a layer only when it is the image's own (its manifest names it) or
was checked to uncompress to the layer's diff_id: another image's claim is never trusted.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import UsageError
from ..image import oci
from ..image.digest import Digest
from ..image.layer import Layer
from ..image.reference import Reference
from ..store import images
from ..store.blob_locations import known_repositories, record_locations
from ..store.store import Store
from .client import Cancelled, RegistryClient
from .options import RegistryOptions

COMPRESSIONS = ("zstd", "gzip", "none")


@dataclass(frozen=True)
class PushResult:
    digest: Digest      # the pushed manifest's digest
    size: int           # the manifest's size
    uploaded: int       # blobs sent
    mounted: int        # blobs mounted from another repository
    existing: int       # blobs the registry had already


def _held_blob(store: Store, layer: Layer, compression: str) -> oci.Descriptor | None:
    """The blob to push for a layer, when the store holds one already."""
    desc = layer.descriptor
    if desc.digest != layer.diff_id and store.blobs.has(desc.digest):
        return desc
    for digest, media_type, size in store.layer_blobs(layer.diff_id):
        if oci.LAYER_COMPRESSION.get(media_type) == compression:
            return oci.Descriptor(media_type, digest, size)
    return None


class _QueueSink:
    """Hands compressed chunks to the uploading thread; stops handing them once it gave up."""

    def __init__(self, q: queue.Queue, gave_up: threading.Event):
        self.q, self.gave_up = q, gave_up

    def write(self, data) -> int:
        chunk = bytes(data)
        while not self.gave_up.is_set():
            try:
                self.q.put(chunk, timeout=0.2)
                break
            except queue.Full:
                continue
        return len(data)

    def end(self) -> None:
        while not self.gave_up.is_set():
            try:
                self.q.put(None, timeout=0.2)
                return
            except queue.Full:
                continue


def _drain(q: queue.Queue, made: dict):
    while (chunk := q.get()) is not None:
        yield chunk
    if "error" in made:
        raise made["error"]


def _compress_and_upload(store: Store, client: RegistryClient, repo: str, layer: Layer,
                         compression: str, mounts_for) -> tuple[oci.Descriptor, str]:
    """Compress a layer into the store while streaming the same bytes to the registry.

    Compressing and uploading overlap instead of following each other. If the streamed
    upload fails, the blob is still finished in the store and sent again from there,
    with the usual HEAD, mount and retries."""
    from ..store.materialize import ensure_blob

    q: queue.Queue = queue.Queue(maxsize=64)
    gave_up = threading.Event()
    sink = _QueueSink(q, gave_up)
    made: dict = {}

    def produce() -> None:
        try:
            made["blob"] = ensure_blob(store, layer.diff_id, compression, copy_to=sink)
        except BaseException as err:  # noqa: BLE001 - handed to the uploading thread
            made["error"] = err
        finally:
            sink.end()

    producer = threading.Thread(target=produce, name="cairn-compress", daemon=True)
    producer.start()
    streamed = False
    try:
        client.upload_stream(repo, _drain(q, made), lambda: made["blob"].digest)
        streamed = True
    except Cancelled:
        raise
    except Exception:  # noqa: BLE001 - any failure of the fast path falls back to the plain upload
        pass
    finally:
        gave_up.set()
        producer.join()
    if "error" in made:
        raise made["error"]
    desc = made["blob"].descriptor()
    if streamed:
        return desc, "uploaded"
    return desc, client.upload_blob(repo, desc.digest, desc.size, lambda: store.blobs.open(desc.digest),
                                    mounts_for(desc.digest))


class BlobSender:
    """Makes blobs exist in one repository: HEAD, mount, upload; layers compressed on the way.

    Shared by image pushes and cache exports. Thread-safe; counts what it did."""

    def __init__(self, store: Store, client: RegistryClient, ref: Reference, compression: str,
                 registry_options=None, log=lambda line: None):
        self.store, self.client, self.ref = store, client, ref
        self.compression = compression
        self.registry_options = registry_options
        self.log = log
        self.counts = {"exists": 0, "mounted": 0, "uploaded": 0}
        self.cancel = threading.Event()
        self._lock = threading.Lock()

    def mounts_for(self, digest: Digest) -> tuple[str, ...]:
        return known_repositories(self.store, self.ref.domain, digest)

    def _counted(self, desc: oci.Descriptor, how: str) -> None:
        with self._lock:
            self.counts[how] += 1
        if desc.media_type not in oci.CONFIG_TYPES:
            self.log(f"{desc.digest.hex[:12]}: {_WORDS[how]}")

    def _open(self, desc: oci.Descriptor, diff_id: Digest | None = None):
        """The blob's bytes; a blob known only remotely is fetched first (only if the
        registry could not mount it)."""
        from .layer_sources import ensure_blob_local

        ensure_blob_local(self.store, desc, self.registry_options, diff_id)
        return self.store.blobs.open(desc.digest)

    def send(self, desc: oci.Descriptor, diff_id: Digest | None = None) -> None:
        self._counted(desc, self.client.upload_blob(self.ref.path, desc.digest, desc.size,
                                                    lambda: self._open(desc, diff_id), self.mounts_for(desc.digest),
                                                    self.cancel))

    def send_layer(self, diff_id: Digest, desc: oci.Descriptor) -> oci.Descriptor:
        """Push one layer; returns the descriptor of the blob that now exists in the repository."""
        try:
            layer = Layer(diff_id, desc)
            held = _held_blob(self.store, layer, self.compression)
            if held is not None:
                self.send(held, diff_id)
                return held
            from ..store.blob_locations import all_repositories, remote_layer

            local = self.store.has_snapshot(diff_id)
            if desc.digest != diff_id and all_repositories(self.store, desc.digest) \
                    and (self.mounts_for(desc.digest) or not local):
                # the image's own blob, as its manifest names it: mount it, or fetch and upload it
                self.send(desc, diff_id)
                return desc
            remote = None if local else remote_layer(self.store, diff_id)
            if remote is not None:
                # another record's claim that a registry blob is this layer: fetched and
                # checked before it is sent, never mounted on trust
                from .layer_sources import ensure_blob_local

                ensure_blob_local(self.store, remote, self.registry_options)
                self.store.record_layer_blob(diff_id, remote.digest, remote.media_type, remote.size)
                self.send(remote, diff_id)
                return remote
            if self.client.options.chunk_size:  # chunked uploads asked for: compress first, then send
                from ..store.materialize import ensure_blob

                made = ensure_blob(self.store, diff_id, self.compression).descriptor()
                self.send(made, diff_id)
                return made
            made, how = _compress_and_upload(self.store, self.client, self.ref.path, layer, self.compression,
                                             self.mounts_for)
            self._counted(made, how)
            return made
        except Cancelled:
            raise
        except BaseException:
            self.cancel.set()
            raise

    def send_all(self, configs: list[oci.Descriptor], layers: list[tuple[Digest, oci.Descriptor]]
                 ) -> list[oci.Descriptor]:
        """Configs and layers in parallel; the first error (after all stop) is raised."""
        workers = max(1, min(self.client.options.parallel, len(layers) + len(configs)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cairn-push") as pool:
            config_futures = [pool.submit(self.send, c) for c in configs]
            futures = [pool.submit(self.send_layer, d, desc) for d, desc in layers]
        errors = [f.exception() for f in [*config_futures, *futures]
                  if f.exception() is not None and not isinstance(f.exception(), Cancelled)]
        if errors:
            raise errors[0]
        return [f.result() for f in futures]


def push(store: Store, image: images.ImageRecord, ref: Reference, options: RegistryOptions | None = None,
         compression: str = "zstd", log=lambda line: None, credentials=None) -> PushResult:
    """`credentials` (cairn serve: the client's own) replace the ones saved on this host."""
    if ref.digest is not None:
        raise UsageError(f"cannot push to a digest reference ({ref.familiar}); give a tag")
    if compression not in COMPRESSIONS:
        raise UsageError(f"unknown compression {compression!r} (use {', '.join(COMPRESSIONS)})")
    manifest, config = images.load_documents(store, image)
    with RegistryClient(ref.domain, options, credentials, push_to=ref.path) as client, store.adding():
        sender = BlobSender(store, client, ref, compression, options, log)
        layers = sender.send_all([manifest.config], [(l.diff_id, l.descriptor) for l in image.layers])
        if layers != list(manifest.layers):
            manifest = oci.Manifest.build(manifest.config, layers, dict(manifest.annotations) or None)
            store.blobs.put(manifest.raw)
        digest = client.put_manifest(ref.path, ref.tag or "latest", manifest.raw, manifest.media_type)
        record_locations(store, ref.repository, [manifest.config.digest, *(d.digest for d in layers)])
    counts = sender.counts
    return PushResult(digest, len(manifest.raw), counts["uploaded"], counts["mounted"], counts["exists"])


_WORDS = {"exists": "Layer already exists", "mounted": "Mounted", "uploaded": "Pushed"}
