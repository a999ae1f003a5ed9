"""`cairn load`: reads a docker-archive or an OCI layout tarball (optionally gzip/zstd-
compressed), verifies every blob against its digest and every layer against its diff_id,
and records the image only once all of it is stored, so a bad archive leaves no tag behind.
"""

from __future__ import annotations

import tarfile
import tempfile
from dataclasses import dataclass

from ..bounded import CONFIG_LIMIT, MANIFEST_LIMIT, loads_json, size_text
from ..errors import CairnError
from ..image import oci
from ..image.config import host_platform
from ..image.digest import Digest, DigestError
from ..image.reference import Reference, ReferenceError, parse_reference
from ..layers.compression import open_decompressed, sniff
from ..store import images
from ..store.blobs import BlobError
from ..store.materialize import unpack_blob
from ..store.store import Store

_CHUNK = 1 << 20
CONTAINERD_NAME = "io.containerd.image.name"
MAX_MEMBERS = 100_000          # an archive of images holds a few files per layer
MAX_EXTENSION_HEADER = 1 << 20  # as builder/layers/tarreader.py
_EXTENSION_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                    tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)


class ArchiveError(CairnError):
    pass


def blob_name(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


# -- load ------------------------------------------------------------------------------

class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile reads an extension header's whole body into memory: refuse a large one first."""

    def _proc_member(self, tar):
        if self.type in _EXTENSION_TYPES and self.size > MAX_EXTENSION_HEADER:
            raise tarfile.ReadError(f"a tar extension header of {self.size} bytes: they are limited to "
                                    f"{size_text(MAX_EXTENSION_HEADER)}")
        return super()._proc_member(tar)


@dataclass(frozen=True)
class Loaded:
    image: images.ImageRecord
    refs: tuple[Reference, ...]


class _Archive:
    def __init__(self, path: str):
        raw, kind = open_decompressed(path)
        if kind != "none":
            # Random access needs a plain tar: decompress into a temp file first.
            tmp = tempfile.TemporaryFile()
            try:
                while chunk := raw.read(_CHUNK):
                    tmp.write(chunk)
            except Exception as err:
                raise ArchiveError(f"{path}: cannot decompress: {err}") from None
            raw.close()
            tmp.seek(0)
            raw = tmp
        try:
            self.tar = tarfile.open(fileobj=raw, mode="r:", tarinfo=_BoundedTarInfo)
            self.members = {}
            while (m := self.tar.next()) is not None:
                if len(self.tar.members) > MAX_MEMBERS:
                    raise ArchiveError(f"{path}: more than {MAX_MEMBERS} files: not an image archive")
                self.members[m.name.removeprefix("./")] = m
        except (tarfile.TarError, EOFError) as err:
            raise ArchiveError(f"{path}: not a readable tar archive: {err}") from None

    def open(self, name: str):
        if not isinstance(name, str):
            raise ArchiveError(f"archive file name {name!r} is not a string")
        m = self.members.get(name.removeprefix("./"))
        if m is None or not m.isfile():
            raise ArchiveError(f"archive has no file {name!r}")
        return self.tar.extractfile(m)

    def read(self, name: str, limit: int = MANIFEST_LIMIT) -> bytes:
        f = self.open(name)
        m = self.members[name.removeprefix("./")]
        if m.size > limit:
            raise ArchiveError(f"archive file {name!r} is {m.size} bytes, larger than the "
                               f"{size_text(limit)} cairn reads for it")
        return f.read(limit)

    def json(self, name: str):
        return loads_json(self.read(name), f"archive file {name!r}", ArchiveError)


def _store_blob(store: Store, arc: _Archive, name: str, expected: Digest | None) -> tuple[Digest, int]:
    src = arc.open(name)
    with store.blobs.writer(expected) as w:
        try:
            while chunk := src.read(_CHUNK):
                w.write(chunk)
        except (tarfile.TarError, EOFError, OSError) as err:
            raise ArchiveError(f"archive file {name!r} is truncated: {err}") from None
        return w.commit(), w.size


def _store_layer(store: Store, arc: _Archive, name: str, expected: Digest | None, diff_id: Digest,
                 media_type: str | None) -> oci.Descriptor:
    digest, size = _store_blob(store, arc, name, expected)
    if media_type is None:
        with store.blobs.open(digest) as f:
            kind = sniff(f.read(6))
        media_type = {"none": oci.OCI_LAYER, "gzip": oci.OCI_LAYER_GZIP, "zstd": oci.OCI_LAYER_ZSTD}.get(kind)
        if media_type is None:
            raise ArchiveError(f"layer {name!r} has an unsupported compression ({kind})")
    unpack_blob(store, digest, media_type, diff_id)
    store.record_layer_blob(diff_id, digest, media_type, size)
    return oci.Descriptor(media_type, digest, size)


def _refs(texts) -> list[Reference]:
    out = []
    for text in texts:
        try:
            out.append(parse_reference(text))
        except ReferenceError:
            continue
    return out


def _load_docker(store: Store, arc: _Archive) -> list[Loaded]:
    entries = arc.json("manifest.json")
    if not isinstance(entries, list):
        raise ArchiveError("manifest.json is not a list")
    loaded = []
    for entry in entries:
        try:
            config_name, layer_names = entry["Config"], list(entry.get("Layers") or [])
        except (KeyError, TypeError, AttributeError):
            raise ArchiveError("manifest.json entry lacks Config or Layers") from None
        if not isinstance(config_name, str) or not all(isinstance(n, str) for n in layer_names):
            raise ArchiveError("manifest.json names its Config and Layers with something other than strings")
        config_raw = arc.read(config_name, CONFIG_LIMIT)
        config = oci.ImageConfig.parse(config_raw)
        if config_name.startswith("blobs/sha256/"):
            _check_name_digest(config_name, config.digest)
        diff_ids = config.diff_ids
        if len(diff_ids) != len(layer_names):
            raise ArchiveError(f"{config_name} lists {len(diff_ids)} layers, manifest.json {len(layer_names)}")
        descs = []
        for diff_id, name in zip(diff_ids, layer_names):
            expected = _name_digest(name)
            descs.append(_store_layer(store, arc, name, expected, diff_id, None))
        manifest = oci.Manifest.build(config.descriptor(), descs)
        tags = entry.get("RepoTags") or []
        refs = _refs(t for t in (tags if isinstance(tags, list) else []) if isinstance(t, str))
        loaded.append(Loaded(images.add_image(store, manifest, config, refs), tuple(refs)))
    return loaded


def _name_digest(name: str) -> Digest | None:
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        try:
            return Digest.parse(f"{parts[1]}:{parts[2]}")
        except DigestError:
            return None
    return None


def _check_name_digest(name: str, digest: Digest) -> None:
    expected = _name_digest(name)
    if expected is not None and expected != digest:
        raise BlobError(f"{name} does not match its digest (content is {digest})")


def _pick_manifest(store: Store, arc: _Archive, desc: oci.Descriptor, want: dict | None = None) -> oci.Descriptor:
    """Follow nested indexes to the manifest for `want` (this host's platform by default)."""
    depth = 0
    while desc.media_type in oci.INDEX_TYPES:
        depth += 1
        if depth > 4:
            raise ArchiveError("image indexes nested too deeply")
        index = oci.Index.parse(arc.read(blob_name(desc.digest)))
        if index.digest != desc.digest:
            raise BlobError(f"index {desc.digest} does not match its digest")
        want = want or host_platform()
        for m in index.manifests:
            plat = dict(m.platform)
            if not plat or (plat.get("os") == want["os"] and plat.get("architecture") == want["architecture"]):
                desc = m
                break
        else:
            raise ArchiveError(f"no manifest for {want['os']}/{want['architecture']} in index {index.digest}")
    return desc


def _load_oci(store: Store, arc: _Archive) -> list[Loaded]:
    index = oci.Index.parse(arc.read("index.json"))
    loaded = []
    for top in index.manifests:
        names = [top.annotation(CONTAINERD_NAME), top.annotation(oci.REF_NAME_ANNOTATION)]
        refs = _refs([n for n in names if n and ("/" in n or ":" in n)])[:1]
        loaded.append(Loaded(load_oci_image(store, arc, top, refs), tuple(refs)))
    return loaded


def load_oci_image(store: Store, arc, top: oci.Descriptor, refs: list[Reference],
                   platform: dict | None = None) -> images.ImageRecord:
    """One image of an OCI layout (an index entry: a manifest, or an index whose entry for
    `platform`, this host's by default, is taken), every blob verified against its digest;
    `arc` reads the layout's files (an archive, or oci_layout.LayoutDir)."""
    desc = _pick_manifest(store, arc, top, platform)
    raw = arc.read(blob_name(desc.digest))
    manifest = oci.Manifest.parse(raw, desc.media_type)
    if manifest.digest != desc.digest:
        raise BlobError(f"manifest {desc.digest} does not match its digest (content is {manifest.digest})")
    config_raw = arc.read(blob_name(manifest.config.digest), CONFIG_LIMIT)
    config = oci.ImageConfig.parse(config_raw)
    if config.digest != manifest.config.digest:
        raise BlobError(f"config {manifest.config.digest} does not match its digest")
    diff_ids = config.diff_ids
    if len(diff_ids) != len(manifest.layers):
        raise ArchiveError(f"manifest {desc.digest} has {len(manifest.layers)} layers, config {len(diff_ids)}")
    for diff_id, layer in zip(diff_ids, manifest.layers):
        if oci.LAYER_COMPRESSION.get(layer.media_type) is None:
            raise ArchiveError(f"unsupported layer media type {layer.media_type!r}")
        _store_layer(store, arc, blob_name(layer.digest), layer.digest, diff_id, layer.media_type)
    return images.add_image(store, manifest, config, refs)


def load(store: Store, path: str) -> list[Loaded]:
    arc = _Archive(path)
    with store.adding():
        try:
            if "manifest.json" in arc.members:
                return _load_docker(store, arc)
            if "index.json" in arc.members:
                return _load_oci(store, arc)
        except (tarfile.TarError, EOFError) as err:
            raise ArchiveError(f"{path}: corrupt archive: {err}") from None
    raise ArchiveError(f"{path}: neither a docker archive (manifest.json) nor an OCI layout (index.json)")
