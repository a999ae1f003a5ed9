"""OCI image model: media types, descriptors, manifests, indexes and image configs.

Each document keeps the exact bytes it was read from or written as (`raw`), so its digest
is always computed over stored bytes, never over a re-serialisation. Docker's v2 schema 2
media types are read as their OCI equivalents.
"""

from __future__ import annotations

import json
import re
from dataclasses import field

from runtime.record import Record, record

from ..bounded import loads_json
from ..errors import CairnError
from .digest import Digest, DigestError

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


_SURROGATES = "[\ud800-\udfff]"  # (compiled by the first text that holds one: ~0.7 ms at import)


def canonical_json(value) -> bytes:
    """Deterministic JSON: sorted keys, no spaces; what cairn writes for new documents.

    Text from a Dockerfile that was not UTF-8 carries its bytes as surrogate escapes; as in
    Go's encoding/json (BuildKit), each such byte is written as U+FFFD."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()  # (strict UTF-8 fails on a surrogate and on nothing else)
    except UnicodeEncodeError:
        return re.sub(_SURROGATES, "\ufffd", text).encode()


@record
class Descriptor(Record):
    media_type: str
    digest: Digest
    size: int
    annotations: tuple[tuple[str, str], ...] = ()
    platform: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_json(cls, obj: dict) -> "Descriptor":
        if not isinstance(obj, dict):
            raise ImageFormatError(f"a descriptor is not a JSON object: {_short(obj)}")
        try:
            size = obj["size"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ImageFormatError(f"descriptor has a bad size: {_short(size)}")
            media_type = obj.get("mediaType", "")
            if not isinstance(media_type, str):
                raise ImageFormatError(f"descriptor has a bad mediaType: {_short(media_type)}")
            platform = obj.get("platform") or {}
            if not isinstance(platform, dict):
                raise ImageFormatError(f"descriptor has a bad platform: {_short(platform)}")
            return cls(
                media_type=media_type,
                digest=parse_digest(obj["digest"]),
                size=size,
                annotations=_annotations(obj),
                platform=tuple(sorted((k, v) for k, v in platform.items() if isinstance(v, str))),
            )
        except KeyError as err:
            raise ImageFormatError(f"descriptor lacks {err}: {_short(obj)}") from None

    def to_json(self) -> dict:
        out: dict = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        return out

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def parse_digest(value) -> Digest:
    """A digest from a document: anything but a well-formed digest string is an ImageFormatError."""
    if not isinstance(value, str):
        raise ImageFormatError(f"a digest is not a string: {_short(value)}")
    try:
        return Digest.parse(value)
    except DigestError as err:
        raise ImageFormatError(str(err)[:300]) from None


def _annotations(obj: dict) -> tuple[tuple[str, str], ...]:
    annotations = obj.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        raise ImageFormatError(f"annotations are not a map of strings: {_short(annotations)}")
    return tuple(sorted(annotations.items()))


def _media_type(obj: dict, given: str | None, default: str) -> str:
    mt = obj.get("mediaType") or given or default
    if not isinstance(mt, str):
        raise ImageFormatError(f"bad mediaType {_short(mt)}")
    return mt


def _load(raw: bytes, what: str) -> dict:
    obj = loads_json(raw, what, ImageFormatError)
    if not isinstance(obj, dict):
        raise ImageFormatError(f"{what} is not a JSON object")
    if _LONE_SURROGATE_ESCAPE.search(raw if isinstance(raw, bytes) else raw.encode("utf-8", "replace")):
        try:  # a \ud800-style escape that pairs with nothing is text no file or database takes
            json.dumps(obj, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise ImageFormatError(f"{what} holds an escaped lone surrogate (\\ud800-\\udfff)") from None
    return obj


_LONE_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


@record
class Manifest(Record):
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
        mt = _media_type(obj, media_type, OCI_MANIFEST)
        if mt not in MANIFEST_TYPES:
            raise ImageFormatError(f"not an image manifest: media type {mt!r}")
        if obj.get("schemaVersion") != 2:
            raise ImageFormatError(f"unsupported manifest schemaVersion {obj.get('schemaVersion')!r}")
        if "config" not in obj or not isinstance(obj.get("layers", []), list):
            raise ImageFormatError("manifest lacks config or layers")
        return cls(raw, mt, Descriptor.from_json(obj["config"]),
                   tuple(Descriptor.from_json(d) for d in obj.get("layers", [])), _annotations(obj))

    @classmethod
    def build(cls, config: Descriptor, layers: list[Descriptor], annotations: dict | None = None) -> "Manifest":
        obj: dict = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(),
                     "layers": [d.to_json() for d in layers]}
        if annotations:
            obj["annotations"] = annotations
        return cls.parse(canonical_json(obj))

    def descriptor(self, **annotations: str) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.raw), tuple(sorted(annotations.items())))


@record
class Index(Record):
    raw: bytes = field(repr=False)
    media_type: str
    manifests: tuple[Descriptor, ...]

    @property
    def digest(self) -> Digest:
        return Digest.of(self.raw)

    @classmethod
    def parse(cls, raw: bytes, media_type: str | None = None) -> "Index":
        obj = _load(raw, "index")
        mt = _media_type(obj, media_type, OCI_INDEX)
        if mt not in INDEX_TYPES:
            raise ImageFormatError(f"not an image index: media type {mt!r}")
        if not isinstance(obj.get("manifests"), list):
            raise ImageFormatError("index lacks manifests")
        return cls(raw, mt, tuple(Descriptor.from_json(d) for d in obj["manifests"]))

    @classmethod
    def build(cls, manifests: list[Descriptor]) -> "Index":
        obj = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [d.to_json() for d in manifests]}
        return cls.parse(canonical_json(obj))


_STRING_LISTS = ("Env", "Entrypoint", "Cmd", "Shell", "OnBuild")
_STRINGS = ("User", "WorkingDir", "StopSignal")
_MAPS = ("Labels", "ExposedPorts", "Volumes", "Healthcheck")


def _check_run_config(config) -> None:
    """The fields of an image config's `config` that cairn reads have the types the spec gives
    (null is allowed for each): a pulled image cannot hand the builder or runtime a number
    where a string goes."""
    if config is None:
        return
    if not isinstance(config, dict):
        raise ImageFormatError("the image config's config is not a JSON object")
    for key in _STRING_LISTS:
        value = config.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ImageFormatError(f"the image config's {key} is not a list of strings: {_short(value)}")
    for key in _STRINGS:
        value = config.get(key)
        if value is not None and not isinstance(value, str):
            raise ImageFormatError(f"the image config's {key} is not a string: {_short(value)}")
    for key in _MAPS:
        value = config.get(key)
        if value is not None and not isinstance(value, dict):
            raise ImageFormatError(f"the image config's {key} is not a JSON object: {_short(value)}")
    for key in (*_STRING_LISTS, *_STRINGS):
        value = config.get(key)
        if any("\0" in v for v in ([value] if isinstance(value, str) else value or [])):
            raise ImageFormatError(f"the image config's {key} holds a NUL byte")
    labels = config.get("Labels") or {}
    if not all(isinstance(v, str) for v in labels.values()):
        raise ImageFormatError("the image config's Labels are not all strings")


@record
class ImageConfig(Record):
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
            parse_digest(d)
        _check_run_config(doc.get("config"))
        return cls(raw, doc)

    @classmethod
    def build(cls, doc: dict) -> "ImageConfig":
        return cls.parse(canonical_json(doc))

    @property
    def diff_ids(self) -> tuple[Digest, ...]:
        return tuple(Digest.parse(d) for d in self.doc["rootfs"]["diff_ids"])

    @property
    def config(self) -> dict:
        config = self.doc.get("config")
        return config if isinstance(config, dict) else {}

    def descriptor(self) -> Descriptor:
        return Descriptor(OCI_CONFIG, self.digest, len(self.raw))
