"""The cache as an OCI artifact: what `--cache-to` writes and `--cache-from` reads.

An OCI image manifest with `artifactType: application/vnd.cairn.cache.v1`, whose config
(`application/vnd.cairn.cache.config.v1+json`) lists cache records and whose layers are
the cached layers' blobs, so a registry stores each layer once, whether an image or a
cache names it. A record is what the local store keeps (key, parent key, the key's
inputs, the layer's diff_id, size) plus the layer's blob descriptor and a portable step
position (`Dockerfile:stage:index`, without the machine's context path) for explanations.

A key-only record (`"keyonly": true`, no blob) is a step of a stage the image only copies
from, exported by mode=min as BuildKit exports its dependencies' keys: it tells which
layers that stage would have, so that the image's `COPY --from` steps are found (and hit)
without running the stage; the stage's bytes are not in the cache.

With `cache-mounts=true` the config also lists the build's cache mounts, whose blobs are
more layers of the manifest (mount_records.py).

The same records may instead ride in an image's config (`type=inline`), under
`io.cairn.cache.v1`, with each record's layer given by its position in the image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..image import oci
from ..image.digest import Digest, DigestError
from ..store.cache_table import EMPTY

ARTIFACT_TYPE = "application/vnd.cairn.cache.v1"
CONFIG_TYPE = "application/vnd.cairn.cache.config.v1+json"
INLINE_KEY = "io.cairn.cache.v1"
FORMAT_VERSION = 1
MAX_RECORDS = 5000  # the newest records are kept when a merge would grow past this


class CacheFormatError(ValueError):
    """A cache manifest or config that is not what this module writes."""


@dataclass(frozen=True)
class CacheRecord:
    key: str
    parent: str
    inputs: dict = field(compare=False, hash=False, repr=False)
    diff_id: str                    # "empty": the step made no layer
    size: int
    position: str                   # Dockerfile:stage:index
    created: float
    layer: oci.Descriptor | None    # the blob of diff_id (None for "empty" and for a key-only record)

    @property
    def keyonly(self) -> bool:
        return self.layer is None and self.diff_id != EMPTY

    def to_json(self) -> dict:
        out = {"key": self.key, "parent": self.parent, "inputs": self.inputs, "diff_id": self.diff_id,
               "size": self.size, "position": self.position, "created": self.created}
        if self.layer is not None:
            out["layer"] = self.layer.to_json()
        elif self.keyonly:
            out["keyonly"] = True
        return out

    @classmethod
    def from_json(cls, obj: dict) -> "CacheRecord":
        if not isinstance(obj, dict):
            raise CacheFormatError("a cache record is not a JSON object")
        try:
            layer = oci.Descriptor.from_json(obj["layer"]) if obj.get("layer") else None
            diff_id = str(obj["diff_id"])
            if diff_id != EMPTY:
                Digest.parse(diff_id)
                if layer is None and obj.get("keyonly") is not True:
                    raise CacheFormatError(f"record {obj.get('key')!r} has a layer diff_id but no blob")
            return cls(str(obj["key"]), str(obj.get("parent") or ""), dict(obj.get("inputs") or {}), diff_id,
                       int(obj.get("size") or 0), str(obj.get("position") or ""), float(obj.get("created") or 0),
                       layer)
        except (KeyError, TypeError, ValueError, DigestError, oci.ImageFormatError) as err:
            raise CacheFormatError(f"bad cache record: {err}") from None


def encode(records: list[CacheRecord], oci_mediatypes: bool = True, mounts=()) -> tuple[bytes, oci.Manifest]:
    """(config bytes, manifest) for a set of records; layers are the records' unique blobs,
    and those of `mounts` (mount_records.MountRecord: cache mounts, listed under `cache_mounts`).
    Without OCI media types: a Docker schema 2 manifest (no artifactType), whose gzip and
    uncompressed layers carry Docker's types (zstd has none there, so keeps the OCI one)."""
    records = sorted(records, key=lambda r: (-r.created, r.key))[:MAX_RECORDS]
    doc = {"mediaType": CONFIG_TYPE, "version": FORMAT_VERSION,
           "records": [r.to_json() for r in sorted(records, key=lambda r: r.key)]}
    if mounts:
        doc["cache_mounts"] = [m.to_json() for m in sorted(mounts, key=lambda m: m.id)]
    config = oci.canonical_json(doc)
    layers: dict[Digest, oci.Descriptor] = {}
    for r in [*records, *mounts]:
        if r.layer is not None:
            media_type = r.layer.media_type if oci_mediatypes else _DOCKER_LAYERS.get(r.layer.media_type,
                                                                                       r.layer.media_type)
            layers.setdefault(r.layer.digest, oci.Descriptor(media_type, r.layer.digest, r.layer.size))
    manifest_doc = {"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST, "artifactType": ARTIFACT_TYPE,
                    "config": {"mediaType": CONFIG_TYPE, "digest": str(Digest.of(config)), "size": len(config)},
                    "layers": [d.to_json() for d in sorted(layers.values(), key=lambda d: str(d.digest))]}
    if not oci_mediatypes:
        manifest_doc["mediaType"] = oci.DOCKER_MANIFEST
        del manifest_doc["artifactType"]
    return config, oci.Manifest.parse(oci.canonical_json(manifest_doc))


_DOCKER_LAYERS = {oci.OCI_LAYER: oci.DOCKER_LAYER, oci.OCI_LAYER_GZIP: oci.DOCKER_LAYER_GZIP}


def is_cache_manifest(manifest: oci.Manifest) -> bool:
    return manifest.config.media_type == CONFIG_TYPE


def decode(config: bytes) -> list[CacheRecord]:
    try:
        doc = json.loads(config)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise CacheFormatError(f"the cache config is not JSON: {err or 'nested too deeply'}") from None
    if not isinstance(doc, dict) or doc.get("mediaType") != CONFIG_TYPE:
        raise CacheFormatError("not a cairn cache config")
    if doc.get("version") != FORMAT_VERSION:
        raise CacheFormatError(f"cache format version {doc.get('version')!r} is not {FORMAT_VERSION}")
    records = doc.get("records") or []
    if not isinstance(records, list):
        raise CacheFormatError("the cache config's records are not a list")
    return [CacheRecord.from_json(r) for r in records]


def decode_inline(manifest: oci.Manifest, config: oci.ImageConfig) -> list[CacheRecord]:
    """Records an image carries in its config (`type=inline`), with their layers from the manifest."""
    entries = config.doc.get(INLINE_KEY)
    if not entries:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CacheFormatError("the image's inline cache is not a list of records")
    records = []
    for entry in entries:
        entry = dict(entry)
        index = entry.pop("layer_index", None)
        if index is not None:
            if not isinstance(index, int) or not 0 <= index < len(manifest.layers):
                raise CacheFormatError(f"inline cache record names layer {index!r} of {len(manifest.layers)}")
            entry["layer"] = manifest.layers[index].to_json()
        records.append(CacheRecord.from_json(entry))
    return records


def inline_entries(records: list[CacheRecord], diff_ids: list[str]) -> list[dict]:
    """Records for an image's config: each layer named by its index in the image."""
    out = []
    for r in records:
        entry = r.to_json()
        entry.pop("layer", None)
        if r.diff_id != EMPTY:
            if r.diff_id not in diff_ids:
                continue
            entry["layer_index"] = diff_ids.index(r.diff_id)
        out.append(entry)
    return out


def merge(existing: list[CacheRecord], ours: list[CacheRecord]) -> list[CacheRecord]:
    """Both sets; for a key in both, ours (it is the newer), except that a key-only record
    never replaces one that has its layer (a mode=min export after a mode=max one)."""
    merged = {r.key: r for r in existing}
    for r in ours:
        if not (r.keyonly and r.key in merged and merged[r.key].layer is not None):
            merged[r.key] = r
    return list(merged.values())
