"""OCI image model: media types, descriptors, manifests, indexes and image configs.

Each document keeps the exact bytes it was read from or written as (`raw`), so its digest
is always computed over stored bytes, never over a re-serialisation. Docker's v2 schema 2
media types are read as their OCI equivalents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .digest import Digest
from .errors import CairnError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
LAYER_COMPRESSION = {
    OCI_LAYER: "none",
    DOCKER_LAYER: "none",
    OCI_LAYER_GZIP: "gzip",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_FOREIGN_LAYER: "gzip",
    OCI_LAYER_ZSTD: "zstd",
}
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"


class ImageFormatError(CairnError):
    """A manifest, index or config that is not what the OCI spec says it must be."""


def canonical_json(value) -> bytes:
    """Deterministic JSON: sorted keys, no spaces; what cairn writes for new documents."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: tuple[tuple[str, str], ...] = ()
    platform: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_json(cls, obj: dict) -> "Descriptor":
        try:
            size = obj["size"]
            if not isinstance(size, int) or size < 0:
                raise ImageFormatError(f"descriptor has a bad size: {size!r}")
            return cls(
                media_type=str(obj.get("mediaType", "")),
                digest=Digest.parse(obj["digest"]),
                size=size,
                annotations=tuple(sorted((obj.get("annotations") or {}).items())),
                platform=tuple(sorted(
                    (k, v) for k, v in (obj.get("platform") or {}).items() if isinstance(v, str))),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ImageFormatError(f"bad descriptor {obj!r}: {err}") from None

    def to_json(self) -> dict:
        out: dict = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        return out

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)


def _load(raw: bytes, what: str) -> dict:
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ImageFormatError(f"{what} is not valid JSON: {err}") from None
    if not isinstance(obj, dict):
        raise ImageFormatError(f"{what} is not a JSON object")
    return obj


@dataclass(frozen=True)
class Manifest:
    raw: bytes = field(repr=False)
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: tuple[tuple[str, str], ...] = ()

    @property
    def digest(self) -> Digest:
        return Digest.of(self.raw)

    @classmethod
    def parse(cls, raw: bytes, media_type: str | None = None) -> "Manifest":
        obj = _load(raw, "manifest")
        mt = obj.get("mediaType") or media_type or OCI_MANIFEST
        if mt not in MANIFEST_TYPES:
            raise ImageFormatError(f"not an image manifest: media type {mt!r}")
        if obj.get("schemaVersion") != 2:
            raise ImageFormatError(f"unsupported manifest schemaVersion {obj.get('schemaVersion')!r}")
        if "config" not in obj or not isinstance(obj.get("layers", []), list):
            raise ImageFormatError("manifest lacks config or layers")
        return cls(raw, mt, Descriptor.from_json(obj["config"]),
                   tuple(Descriptor.from_json(d) for d in obj.get("layers", [])),
                   tuple(sorted((obj.get("annotations") or {}).items())))

    @classmethod
    def build(cls, config: Descriptor, layers: list[Descriptor], annotations: dict | None = None) -> "Manifest":
        obj: dict = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(),
                     "layers": [d.to_json() for d in layers]}
        if annotations:
            obj["annotations"] = annotations
        return cls.parse(canonical_json(obj))

    def descriptor(self, **annotations: str) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.raw), tuple(sorted(annotations.items())))


@dataclass(frozen=True)
class Index:
    raw: bytes = field(repr=False)
    media_type: str
    manifests: tuple[Descriptor, ...]

    @property
    def digest(self) -> Digest:
        return Digest.of(self.raw)

    @classmethod
    def parse(cls, raw: bytes, media_type: str | None = None) -> "Index":
        obj = _load(raw, "index")
        mt = obj.get("mediaType") or media_type or OCI_INDEX
        if mt not in INDEX_TYPES:
            raise ImageFormatError(f"not an image index: media type {mt!r}")
        if not isinstance(obj.get("manifests"), list):
            raise ImageFormatError("index lacks manifests")
        return cls(raw, mt, tuple(Descriptor.from_json(d) for d in obj["manifests"]))

    @classmethod
    def build(cls, manifests: list[Descriptor]) -> "Index":
        obj = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [d.to_json() for d in manifests]}
        return cls.parse(canonical_json(obj))


@dataclass(frozen=True)
class ImageConfig:
    """The image config document; `doc` is its parsed JSON (treat as read-only)."""

    raw: bytes = field(repr=False)
    doc: dict = field(repr=False, compare=False, hash=False)

    @property
    def digest(self) -> Digest:
        return Digest.of(self.raw)

    @classmethod
    def parse(cls, raw: bytes) -> "ImageConfig":
        doc = _load(raw, "image config")
        rootfs = doc.get("rootfs")
        if not isinstance(rootfs, dict) or rootfs.get("type") != "layers" or not isinstance(rootfs.get("diff_ids"), list):
            raise ImageFormatError("image config lacks rootfs.diff_ids")
        for d in rootfs["diff_ids"]:
            Digest.parse(d)
        return cls(raw, doc)

    @classmethod
    def build(cls, doc: dict) -> "ImageConfig":
        return cls.parse(canonical_json(doc))

    @property
    def diff_ids(self) -> tuple[Digest, ...]:
        return tuple(Digest.parse(d) for d in self.doc["rootfs"]["diff_ids"])

    @property
    def config(self) -> dict:
        return self.doc.get("config") or {}

    def descriptor(self) -> Descriptor:
        return Descriptor(OCI_CONFIG, self.digest, len(self.raw))
