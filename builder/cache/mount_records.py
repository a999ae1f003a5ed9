"""Cache mounts in the cache artifact (`--cache-to ...,cache-mounts=true`): each RUN
--mount=type=cache directory the build used travels as one more layer of the artifact, and
the cache config lists it under `cache_mounts`: its id, sharing, the owner and mode of its
root, the layer's blob and diff_id, its size and when it was exported. Readers that do not
know the list ignore it (the format version stays 1).

Everything here comes from a registry or a directory: an entry is checked field by field
(an id is text, owner and mode are in range, the blob is a layer media type) and a config
names at most MAX_MOUNTS of them."""

from __future__ import annotations

import json

from runtime.record import Record, record

from ..image import oci
from ..image.digest import Digest, DigestError
from .manifest import CacheFormatError

KEY = "cache_mounts"
MAX_MOUNTS = 64
_ID_LIMIT = 4096
_IDS = 1 << 32


@record
class MountRecord(Record):
    id: str               # the mount's id (or its target, as the Dockerfile wrote it)
    sharing: str          # shared | private | locked
    uid: int              # the owner and mode of the cache directory's root
    gid: int
    mode: int
    diff_id: str          # the uncompressed tar of the directory's content
    size: int             # bytes of that tar
    created: float        # when it was exported
    layer: oci.Descriptor  # the blob

    def to_json(self) -> dict:
        return {"id": self.id, "sharing": self.sharing, "uid": self.uid, "gid": self.gid, "mode": self.mode,
                "diff_id": self.diff_id, "size": self.size, "created": self.created, "layer": self.layer.to_json()}

    @classmethod
    def from_json(cls, obj) -> "MountRecord":
        if not isinstance(obj, dict):
            raise CacheFormatError("a cache mount entry is not a JSON object")
        try:
            mount_id, sharing = obj["id"], obj.get("sharing") or "shared"
            if not isinstance(mount_id, str) or not mount_id or len(mount_id) > _ID_LIMIT:
                raise CacheFormatError(f"a cache mount has a bad id: {str(mount_id)[:80]!r}")
            if sharing not in ("shared", "private", "locked"):
                raise CacheFormatError(f"cache mount {mount_id!r}: bad sharing {str(sharing)[:40]!r}")
            uid, gid, mode, size = (_int(obj, name, limit) for name, limit in
                                    (("uid", _IDS), ("gid", _IDS), ("mode", 0o10000), ("size", 1 << 62)))
            layer = oci.Descriptor.from_json(obj["layer"])
            if layer.media_type not in oci.LAYER_COMPRESSION:
                raise CacheFormatError(f"cache mount {mount_id!r}: {layer.media_type[:80]!r} is not a layer type")
            diff_id = str(Digest.parse(obj["diff_id"]))
            created = float(obj.get("created") or 0)
            return cls(mount_id, sharing, uid, gid, mode, diff_id, size, created, layer)
        except (KeyError, TypeError, ValueError, DigestError, oci.ImageFormatError) as err:
            raise CacheFormatError(f"bad cache mount entry: {err}") from None


def _int(obj: dict, name: str, limit: int) -> int:
    value = obj.get(name, 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
        raise CacheFormatError(f"a cache mount's {name} is not a number below {limit}: {str(value)[:40]!r}")
    return value


def decode_mounts(config: bytes) -> list[MountRecord]:
    """The cache mounts a cache config lists (none when it lists none)."""
    try:
        doc = json.loads(config)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []  # (decode() of the same bytes reports it)
    entries = doc.get(KEY) if isinstance(doc, dict) else None
    if not entries:
        return []
    if not isinstance(entries, list) or len(entries) > MAX_MOUNTS:
        raise CacheFormatError(f"the cache config's {KEY} is not a list of at most {MAX_MOUNTS}")
    return [MountRecord.from_json(e) for e in entries]


def merge_mounts(existing: list[MountRecord], ours: list[MountRecord]) -> list[MountRecord]:
    """Both; for an id in both, ours (the newer); the newest MAX_MOUNTS."""
    merged = {m.id: m for m in existing}
    merged.update({m.id: m for m in ours})
    return sorted(merged.values(), key=lambda m: -m.created)[:MAX_MOUNTS]
