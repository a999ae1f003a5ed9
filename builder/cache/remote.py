"""`--cache-from`: cache records from registries and OCI layout directories, matched by key.

Each source is read once, at the start of a build: the manifest and its config, never a
layer. A hit takes the record's layer descriptor only, after checking that the source
still holds the blob (a HEAD for a registry, a file for a directory); the record is then
adopted into the local store, with the registry noted as the blob's location, so that
the layer is downloaded only if a later step, an output, or a push elsewhere needs its
bytes. A source that is missing or unreadable is a warning, and the build goes on.

A key-only record (manifest.py) is a hit only in a stage that the image does not contain,
and is not adopted: the stage's layers are then known by diff_id alone, which is enough to
find the image's `COPY --from` records; if a step needs those layers' bytes after all, the
build starts again without key-only hits (executor/state.py KeyOnlyLayers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..bounded import CONFIG_LIMIT, MANIFEST_LIMIT, read_file
from ..errors import CairnError
from ..image import oci
from ..image.digest import Digest
from ..image.layer import Layer
from ..store.layer_check import LayerMismatch
from ..store.store import Store
from . import records as local_records
from .manifest import CacheFormatError, CacheRecord, decode, decode_inline, is_cache_manifest
from .mount_records import decode_mounts
from .specs import CacheSpec


@dataclass(frozen=True)
class RemoteHit:
    record: CacheRecord
    source: str                 # how the source is named in reports: a reference or local:DIR
    descriptor: oci.Descriptor | None


class _Source:
    def __init__(self, spec: CacheSpec, records: list[CacheRecord], mounts: list):
        self.spec = spec
        self.name = spec.describe()
        self.by_key = {r.key: r for r in records}
        self.mounts = {m.id: m for m in mounts} if spec.cache_mounts else {}  # mount_records.MountRecord
        self.checked: dict[Digest, bool] = {}


class RemoteCaches:
    def __init__(self, store: Store, specs: list[CacheSpec], registry_options=None, warn=lambda text: None):
        self.store = store
        self.registry_options = registry_options
        self.warn = warn
        self.sources: list[_Source] = []
        for spec in specs:
            try:
                records, mounts = self._load(spec)
            except (CairnError, CacheFormatError, OSError) as err:
                warn(f"cache source {spec.describe()} is not usable, building without it: {err}")
                continue
            self.sources.append(_Source(spec, records, mounts))

    def __bool__(self) -> bool:
        return bool(self.sources)

    def close(self) -> None:
        pass  # the clients are the process's shared ones

    # -- reading sources ----------------------------------------------------------------
    def _client(self, domain: str):
        from ..registry.client import shared

        with shared(domain, self.registry_options) as client:
            return client

    def _load(self, spec: CacheSpec) -> tuple[list[CacheRecord], list]:
        """The source's records and its cache mounts (mount_records.MountRecord)."""
        if spec.type == "local":
            config = load_local_config(Path(spec.path), spec.tag)
            return decode(config), decode_mounts(config)
        from ..registry.errors import NotFoundError

        ref = spec.ref
        client = self._client(ref.domain)
        try:
            fetched = client.get_manifest(ref.path, str(ref.digest) if ref.digest else ref.tag or "latest", ref.digest)
        except NotFoundError:
            raise CairnError("no cache has been exported there yet") from None
        manifest = oci.Manifest.parse(fetched.raw, fetched.media_type) \
            if fetched.media_type in oci.MANIFEST_TYPES else None
        if manifest is None:
            raise CacheFormatError(f"{fetched.media_type or 'an unknown type'} is not a cache manifest")
        config = client.read_blob(ref.path, manifest.config)
        if is_cache_manifest(manifest):
            return decode(config), decode_mounts(config)
        if manifest.config.media_type in oci.CONFIG_TYPES:  # an image with an inline cache
            records = decode_inline(manifest, oci.ImageConfig.parse(config))
            if not records:
                raise CacheFormatError("an image without an inline cache (build it with --cache-to type=inline)")
            return records, []
        raise CacheFormatError(f"config type {manifest.config.media_type} is neither a cache nor an image")

    # -- lookups ------------------------------------------------------------------------
    def lookup(self, key: str, keyonly: bool = False) -> RemoteHit | None:
        """A source's record for `key` whose layer a source holds; with `keyonly`, failing
        that, a key-only record (a hit whose layer's bytes are nowhere: see manifest.py)."""
        fallback = None
        for source in self.sources:
            record = source.by_key.get(key)
            if record is None:
                continue
            if record.keyonly:
                fallback = fallback or (RemoteHit(record, source.name, None) if keyonly else None)
                continue
            if record.layer is None:
                return RemoteHit(record, source.name, None)
            if self._holds(source, record.layer):
                return RemoteHit(record, source.name, record.layer)
            self.warn(f"cache source {source.name} names layer {record.layer.digest} for a step, "
                      "but does not hold it; the step runs")
        return fallback

    def _holds(self, source: _Source, desc: oci.Descriptor) -> bool:
        if desc.digest not in source.checked:
            if source.spec.type == "local":
                held = (_blob_path(Path(source.spec.path), desc.digest)).is_file()
            else:
                try:
                    held = self._client(source.spec.ref.domain).blob_exists(source.spec.ref.path, desc.digest)
                except CairnError:
                    held = False
            source.checked[desc.digest] = held
        return source.checked[desc.digest]

    def earlier_inputs(self, position: str, key: str) -> dict | None:
        """The inputs of the newest record for the same portable step position (for explanations)."""
        best = None
        for source in self.sources:
            for record in source.by_key.values():
                if record.keyonly or record.position != position or record.key == key:
                    continue  # (a key-only record keeps no inputs to explain with)
                if best is None or record.created > best.created:
                    best = record
        return best.inputs if best is not None else None

    @staticmethod
    def keyonly_hit(hit: RemoteHit) -> local_records.Hit:
        """A key-only record as a hit: its layer known by diff_id alone, recorded nowhere
        (the executor takes one only for a stage the image does not contain)."""
        diff_id = Digest.parse(hit.record.diff_id)
        return local_records.Hit(Layer(diff_id, oci.Descriptor(oci.OCI_LAYER, diff_id, hit.record.size)),
                                 created=hit.record.created)

    def adopt(self, hit: RemoteHit, position: str) -> local_records.Hit | None:
        """Make a remote hit a local record whose layer is known by where it lives; None (the
        step runs) when a directory source's blob is not the layer its record names."""
        r = hit.record
        store = self.store
        if hit.descriptor is None:
            local_records.record_empty(store, r.key, r.parent, r.inputs, position)
            return local_records.EMPTY_HIT
        diff_id = Digest.parse(r.diff_id)
        source = next(s for s in self.sources if s.name == hit.source)
        if source.spec.type == "local":
            try:
                _copy_blob_in(store, Path(source.spec.path), hit.descriptor, diff_id)
            except LayerMismatch as err:
                self.warn(f"cache source {source.name}: {err}; the step runs")
                return None
        else:
            from ..store.blob_locations import record_remote_layer

            record_remote_layer(store, diff_id, hit.descriptor, source.spec.ref.repository)
        local_records.record(store, r.key, r.parent, r.inputs, diff_id, r.size, position, r.created)
        return local_records.Hit(Layer(diff_id, hit.descriptor), created=r.created)


def _blob_path(layout: Path, digest: Digest) -> Path:
    return layout / "blobs" / digest.algorithm / digest.hex


def load_local_config(layout: Path, tag: str) -> bytes:
    """The config of the cache named `tag` in an OCI layout directory, checked against its digest."""
    index_path = layout / "index.json"
    if not index_path.is_file():
        raise CairnError(f"{layout} holds no cache yet (no index.json)")
    try:
        index = oci.Index.parse(read_file(index_path, MANIFEST_LIMIT, str(index_path)))
    except oci.ImageFormatError as err:
        raise CacheFormatError(f"{index_path}: {err}") from None
    for desc in index.manifests:
        if desc.annotation(oci.REF_NAME_ANNOTATION) == tag:
            raw = read_file(_blob_path(layout, desc.digest), MANIFEST_LIMIT, f"the cache manifest {desc.digest}")
            if Digest.of(raw) != desc.digest:
                raise CacheFormatError(f"the cache manifest {desc.digest} does not match its digest")
            manifest = oci.Manifest.parse(raw)
            config = read_file(_blob_path(layout, manifest.config.digest), CONFIG_LIMIT,
                               f"the cache config {manifest.config.digest}")
            if Digest.of(config) != manifest.config.digest:
                raise CacheFormatError(f"the cache config {manifest.config.digest} does not match its digest")
            if not is_cache_manifest(manifest):
                raise CacheFormatError(f"{tag} in {layout} is not a cairn cache")
            return config
    raise CairnError(f"{layout} has no cache named {tag!r}")


def _copy_blob_in(store: Store, layout: Path, desc: oci.Descriptor, diff_id: Digest) -> None:
    if not store.blobs.has(desc.digest):
        with store.adding(), open(_blob_path(layout, desc.digest), "rb") as src, \
                store.blobs.writer(desc.digest) as w:
            while chunk := src.read(1 << 20):
                w.write(chunk)
            w.commit()
    store.record_layer_blob(diff_id, desc.digest, desc.media_type, desc.size)
