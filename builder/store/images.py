"""Images and tags in the store: adding, resolving, listing, tagging and removing them.

An image is its manifest digest. Its manifest and config are blobs; each layer is
available as a blob, as a snapshot, or both (a layer whose descriptor is an
uncompressed tar can always be rewritten from its snapshot, deterministically).
"""

from __future__ import annotations

import time

from runtime.record import Record, record

from ..errors import CairnError
from ..image import oci
from ..image.digest import Digest
from ..image.layer import Layer
from ..image.reference import Reference, ReferenceError, parse_reference
from .store import Store


class ImageNotFound(CairnError):
    pass


@record
class ImageRecord(Record):
    manifest: Digest
    config: Digest
    size: int
    added: float
    tags: tuple[str, ...]
    layers: tuple[Layer, ...]

    @property
    def id(self) -> Digest:
        """docker's image ID: the config digest."""
        return self.config


def add_image(store: Store, manifest: oci.Manifest, config: oci.ImageConfig, tags: list[Reference] = ()) -> ImageRecord:
    """Record an image whose manifest, config and layers are already in the store."""
    diff_ids = config.diff_ids
    if len(diff_ids) != len(manifest.layers):
        raise oci.ImageFormatError(
            f"manifest has {len(manifest.layers)} layers but its config lists {len(diff_ids)} diff_ids")
    store.blobs.put(manifest.raw)
    store.blobs.put(config.raw)
    size = 0
    for diff_id, desc in zip(diff_ids, manifest.layers):
        snap = store.snapshot_size(diff_id)
        size += snap if snap is not None else desc.size
    mdig = str(manifest.digest)
    with store.transaction() as c:
        c.execute("INSERT OR IGNORE INTO images(manifest, config, size, added) VALUES (?,?,?,?)",
                  (mdig, str(config.digest), size, time.time()))
        for pos, (diff_id, desc) in enumerate(zip(diff_ids, manifest.layers)):
            c.execute("INSERT OR IGNORE INTO image_layers(manifest, position, diff_id, blob, media_type, size)"
                      " VALUES (?,?,?,?,?,?)", (mdig, pos, str(diff_id), str(desc.digest), desc.media_type, desc.size))
        for ref in tags:
            c.execute("INSERT INTO tags(name, manifest) VALUES (?,?) "
                      "ON CONFLICT(name) DO UPDATE SET manifest=excluded.manifest", (str(ref), mdig))
    return get_image(store, manifest.digest)


def get_image(store: Store, manifest: Digest) -> ImageRecord:
    row = store.conn.execute("SELECT manifest, config, size, added FROM images WHERE manifest=?",
                             (str(manifest),)).fetchone()
    if row is None:
        raise ImageNotFound(f"no such image: {manifest}")
    tags = tuple(r[0] for r in store.conn.execute(
        "SELECT name FROM tags WHERE manifest=? ORDER BY name", (row[0],)))
    layers = tuple(
        Layer(Digest.parse(d), oci.Descriptor(mt, Digest.parse(b), size))
        for d, b, mt, size in store.conn.execute(
            "SELECT diff_id, blob, media_type, size FROM image_layers WHERE manifest=? ORDER BY position", (row[0],)))
    return ImageRecord(Digest.parse(row[0]), Digest.parse(row[1]), row[2], row[3], tags, layers)


def resolve(store: Store, text: str) -> ImageRecord:
    """An image by reference (`busybox`, `me/app:1`), manifest digest, or image ID (prefix)."""
    found = _by_id(store, text)
    if found is not None:
        return found
    try:
        ref = parse_reference(text)
    except ReferenceError:
        raise
    if ref.digest is not None:
        row = store.conn.execute("SELECT manifest FROM images WHERE manifest=?", (str(ref.digest),)).fetchone()
        if row:
            return get_image(store, ref.digest)
    else:
        row = store.conn.execute("SELECT manifest FROM tags WHERE name=?", (str(ref),)).fetchone()
        if row:
            return get_image(store, Digest.parse(row[0]))
    raise ImageNotFound(f"no such image: {text}")


def _by_id(store: Store, text: str) -> ImageRecord | None:
    prefix = text.removeprefix("sha256:")
    if not (4 <= len(prefix) <= 64) or any(c not in "0123456789abcdef" for c in prefix):
        return None
    if len(prefix) < 12 and not text.startswith("sha256:"):
        return None
    rows = store.conn.execute(
        "SELECT manifest FROM images WHERE config LIKE ? OR manifest LIKE ?",
        (f"sha256:{prefix}%", f"sha256:{prefix}%")).fetchall()
    manifests = {r[0] for r in rows}
    if len(manifests) > 1:
        raise CairnError(f"image ID prefix {text!r} is ambiguous")
    if manifests:
        return get_image(store, Digest.parse(manifests.pop()))
    return None


def list_images(store: Store) -> list[ImageRecord]:
    rows = store.conn.execute("SELECT manifest FROM images ORDER BY added DESC").fetchall()
    return [get_image(store, Digest.parse(r[0])) for r in rows]


def tag_image(store: Store, source: str, target: str) -> Reference:
    image = resolve(store, source)
    ref = parse_reference(target)
    if ref.digest is not None:
        raise ReferenceError(f"cannot tag with a digest reference: {target!r}")
    with store.transaction() as c:
        c.execute("INSERT INTO tags(name, manifest) VALUES (?,?) "
                  "ON CONFLICT(name) DO UPDATE SET manifest=excluded.manifest", (str(ref), str(image.manifest)))
    return ref


def remove_image(store: Store, text: str, force: bool = False) -> list[str]:
    """Untag (by reference) or delete (by ID); the image record goes when no tag is left.

    Returns docker-style lines: "Untagged: ..." and "Deleted: ...".
    """
    out: list[str] = []
    image = resolve(store, text)
    by_name = _by_id(store, text) is None
    with store.transaction() as c:
        if by_name:
            ref = parse_reference(text)
            if ref.digest is None:
                c.execute("DELETE FROM tags WHERE name=?", (str(ref),))
                out.append(f"Untagged: {ref.familiar}")
        else:
            tags = [r[0] for r in c.execute("SELECT name FROM tags WHERE manifest=?", (str(image.manifest),))]
            if len(tags) > 1 and not force:
                raise CairnError(f"image {image.id.short} is referenced by several tags "
                                 f"({', '.join(tags)}); remove them by name, or use --force")
            c.execute("DELETE FROM tags WHERE manifest=?", (str(image.manifest),))
            out += [f"Untagged: {parse_reference(t).familiar}" for t in tags]
        left = c.execute("SELECT COUNT(*) FROM tags WHERE manifest=?", (str(image.manifest),)).fetchone()[0]
        if left == 0:
            c.execute("DELETE FROM images WHERE manifest=?", (str(image.manifest),))
            out.append(f"Deleted: {image.id}")
    return out


def load_documents(store: Store, image: ImageRecord) -> tuple[oci.Manifest, oci.ImageConfig]:
    manifest = oci.Manifest.parse(store.blobs.read(image.manifest))
    config = oci.ImageConfig.parse(store.blobs.read(image.config))
    return manifest, config


