"""`cairn save` and `cairn load`: docker-archive and OCI layout tarballs.

save writes docker's current `docker save` layout, which is an OCI layout too:
`oci-layout`, `index.json`, `blobs/sha256/...` (uncompressed layer tars, config,
manifest) and docker's `manifest.json`, so `docker load`, `skopeo ... docker-archive:`
and `oci-archive:` all read it. `--format oci` writes a plain OCI layout with the stored
manifest unchanged and the `org.opencontainers.image.ref.name` annotation.

load reads either format (optionally gzip/zstd-compressed), verifies every blob against
its digest and every layer against its diff_id, and records the image only once all of
it is stored, so a bad archive leaves no tag behind. Output files are written to a
temp name and renamed, so a failed save leaves nothing at the destination.
"""

from __future__ import annotations

import tarfile
import tempfile
from dataclasses import dataclass

from ..atomic_file import write_atomically
from ..bounded import CONFIG_LIMIT, MANIFEST_LIMIT, loads_json, size_text
from ..errors import CairnError
from ..image import oci
from ..image.config import host_platform
from ..image.digest import Digest, DigestError
from ..image.reference import Reference, ReferenceError, parse_reference
from ..layers.compression import open_decompressed, sniff
from ..layers.materialize import layer_tar_size, unpack_blob, write_layer_tar
from . import images
from .blobs import BlobError
from .store import Store

_CHUNK = 1 << 20
CONTAINERD_NAME = "io.containerd.image.name"
MAX_MEMBERS = 100_000          # an archive of images holds a few files per layer
MAX_EXTENSION_HEADER = 1 << 20  # as builder/layers/tarreader.py
_EXTENSION_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                    tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)


class ArchiveError(CairnError):
    pass


class _TarOut:
    """A deterministic tar being written: sorted by call order, mtime 0, root-owned."""

    def __init__(self, f):
        self.f = f
        self.names: set[str] = set()

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, 0
        return info

    def add_dir(self, name: str) -> None:
        if name in self.names:
            return
        self.names.add(name)
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
        self.f.write(info.tobuf(tarfile.PAX_FORMAT))

    def add_bytes(self, name: str, data: bytes) -> None:
        if name in self.names:
            return
        self.add_stream(name, len(data), lambda out: out.write(data))

    def add_stream(self, name: str, size: int, write) -> None:
        if name in self.names:
            return
        self.names.add(name)
        self.f.write(self._info(name, size).tobuf(tarfile.PAX_FORMAT))
        counter = _Counter(self.f)
        write(counter)
        if counter.size != size:
            raise ArchiveError(f"{name}: wrote {counter.size} bytes, expected {size}")
        pad = (-size) % tarfile.BLOCKSIZE
        if pad:
            self.f.write(b"\0" * pad)

    def close(self) -> None:
        self.f.write(b"\0" * (2 * tarfile.BLOCKSIZE))


class _Counter:
    def __init__(self, f):
        self.f = f
        self.size = 0

    def write(self, data) -> int:
        self.f.write(data)
        self.size += len(data)
        return len(data)


def _blob_name(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def _add_layer_blob(store: Store, out: _TarOut, layer: images.LayerRecord) -> None:
    desc = layer.descriptor
    name = _blob_name(desc.digest)
    if store.blobs.has(desc.digest):
        path = store.blobs.path(desc.digest)
        size = path.stat().st_size

        def copy(sink, path=path):
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    sink.write(chunk)

        out.add_stream(name, size, copy)
    elif desc.digest == layer.diff_id:
        out.add_stream(name, layer_tar_size(store, layer.diff_id),
                       lambda sink: write_layer_tar(store, layer.diff_id, sink))
    else:
        raise BlobError(f"layer blob {desc.digest} is missing from the store")


def save(store: Store, refs: list[str], dest: str, fmt: str = "docker", *, names: list[str] = (),
         layout_dir: bool = False) -> None:
    """Write the images to dest (a file; `-` for stdout; a directory when layout_dir). With
    `names` (one image in refs), the image is listed once under each name instead of its ref,
    as BuildKit's `-o type=oci,name=a,b` lists it."""
    if fmt not in ("docker", "oci"):
        raise CairnError(f"unknown archive format {fmt!r} (use docker or oci)")
    chosen: list[tuple[images.ImageRecord, str, Reference | None]] = []
    for text in refs:
        image = images.resolve(store, text)
        ref = None
        try:
            parsed = parse_reference(text)
            if parsed.digest is None and images._by_id(store, text) is None:
                ref = parsed
        except ReferenceError:
            pass
        chosen.append((image, text, ref))
    if names:
        named = []
        for text in names:
            try:
                named.append((chosen[0][0], text, parse_reference(text)))
            except ReferenceError as err:
                raise CairnError(f"invalid image name {text!r}: {err}") from None
        chosen = named

    from ..layer_sources import ensure_local

    for image, _text, _ref in chosen:  # layers known only in a registry are fetched first
        ensure_local(store, image.layers)

    def fill(f, out=None):
        out = out or _TarOut(f)
        out.add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        out.add_dir("blobs/")
        out.add_dir("blobs/sha256/")
        index_entries = []
        docker_manifest = []
        for image, _text, ref in chosen:
            manifest, config = images.load_documents(store, image)
            out.add_bytes(_blob_name(image.config), config.raw)
            if fmt == "docker":
                layers = [images.LayerRecord(l.diff_id, oci.Descriptor(oci.OCI_LAYER, l.diff_id,
                          layer_tar_size(store, l.diff_id))) for l in image.layers]
                manifest = oci.Manifest.build(config.descriptor(), [l.descriptor for l in layers])
            else:
                layers = list(image.layers)
            for layer in layers:
                _add_layer_blob(store, out, layer)
            out.add_bytes(_blob_name(manifest.digest), manifest.raw)
            annotations = {}
            if ref is not None:
                annotations = {CONTAINERD_NAME: str(ref), oci.REF_NAME_ANNOTATION: ref.tag or "latest"}
                if fmt == "oci" and not names:  # BuildKit's -o type=oci,name= gives just the tag
                    annotations[oci.REF_NAME_ANNOTATION] = str(ref)
            index_entries.append(manifest.descriptor(**annotations).to_json())
            if fmt == "docker":
                same = [e for e in docker_manifest if e["Config"] == _blob_name(image.config)]
                if same:  # one image under several names: one entry with all its tags, as docker saves it
                    same[0]["RepoTags"] += [ref.familiar] if ref is not None else []
                    continue
                docker_manifest.append({
                    "Config": _blob_name(image.config),
                    "RepoTags": [ref.familiar] if ref is not None else [],
                    "Layers": [_blob_name(l.diff_id) for l in image.layers],
                })
        index = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": index_entries}
        out.add_bytes("index.json", oci.canonical_json(index))
        if fmt == "docker":
            out.add_bytes("manifest.json", oci.canonical_json(docker_manifest))
        out.close()

    with store.adding():
        if layout_dir:
            from ..image.layout_dir import LayoutDirOut

            with LayoutDirOut(dest) as out:
                fill(None, out)
        elif dest == "-":
            import sys

            fill(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            write_atomically(dest, fill)


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
        index = oci.Index.parse(arc.read(_blob_name(desc.digest)))
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
    raw = arc.read(_blob_name(desc.digest))
    manifest = oci.Manifest.parse(raw, desc.media_type)
    if manifest.digest != desc.digest:
        raise BlobError(f"manifest {desc.digest} does not match its digest (content is {manifest.digest})")
    config_raw = arc.read(_blob_name(manifest.config.digest), CONFIG_LIMIT)
    config = oci.ImageConfig.parse(config_raw)
    if config.digest != manifest.config.digest:
        raise BlobError(f"config {manifest.config.digest} does not match its digest")
    diff_ids = config.diff_ids
    if len(diff_ids) != len(manifest.layers):
        raise ArchiveError(f"manifest {desc.digest} has {len(manifest.layers)} layers, config {len(diff_ids)}")
    for diff_id, layer in zip(diff_ids, manifest.layers):
        if oci.LAYER_COMPRESSION.get(layer.media_type) is None:
            raise ArchiveError(f"unsupported layer media type {layer.media_type!r}")
        _store_layer(store, arc, _blob_name(layer.digest), layer.digest, diff_id, layer.media_type)
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
