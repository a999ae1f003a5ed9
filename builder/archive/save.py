"""`cairn save`: docker-archive and OCI layout tarballs.

save writes docker's current `docker save` layout, which is an OCI layout too:
`oci-layout`, `index.json`, `blobs/sha256/...` (uncompressed layer tars, config,
manifest) and docker's `manifest.json`, so `docker load`, `skopeo ... docker-archive:`
and `oci-archive:` all read it. `--format oci` writes a plain OCI layout with the stored
manifest unchanged and the `org.opencontainers.image.ref.name` annotation. Output files
are written to a temp name and renamed, so a failed save leaves nothing at the destination.
"""

from __future__ import annotations

import tarfile

from ..atomic_file import write_atomically
from ..errors import CairnError
from ..image import oci
from ..image.layer import Layer
from ..image.reference import Reference, ReferenceError, parse_reference
from ..store import images
from ..store.blobs import BlobError
from ..store.materialize import layer_tar_size, write_layer_tar
from ..store.store import Store
from .load import _CHUNK, CONTAINERD_NAME, ArchiveError, blob_name


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


def _add_layer_blob(store: Store, out: _TarOut, layer: Layer) -> None:
    desc = layer.descriptor
    name = blob_name(desc.digest)
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
    """Write the images to dest (a file; `-` for stdout; a directory when layout_dir; a
    writable object: cairn serve's response). With
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

    from ..registry.layer_sources import ensure_local

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
            out.add_bytes(blob_name(image.config), config.raw)
            if fmt == "docker":
                layers = [Layer(l.diff_id, oci.Descriptor(oci.OCI_LAYER, l.diff_id,
                          layer_tar_size(store, l.diff_id))) for l in image.layers]
                manifest = oci.Manifest.build(config.descriptor(), [l.descriptor for l in layers])
            else:
                layers = list(image.layers)
            for layer in layers:
                _add_layer_blob(store, out, layer)
            out.add_bytes(blob_name(manifest.digest), manifest.raw)
            annotations = {}
            if ref is not None:
                annotations = {CONTAINERD_NAME: str(ref), oci.REF_NAME_ANNOTATION: ref.tag or "latest"}
                if fmt == "oci" and not names:  # BuildKit's -o type=oci,name= gives just the tag
                    annotations[oci.REF_NAME_ANNOTATION] = str(ref)
            index_entries.append(manifest.descriptor(**annotations).to_json())
            if fmt == "docker":
                same = [e for e in docker_manifest if e["Config"] == blob_name(image.config)]
                if same:  # one image under several names: one entry with all its tags, as docker saves it
                    same[0]["RepoTags"] += [ref.familiar] if ref is not None else []
                    continue
                docker_manifest.append({
                    "Config": blob_name(image.config),
                    "RepoTags": [ref.familiar] if ref is not None else [],
                    "Layers": [blob_name(l.diff_id) for l in image.layers],
                })
        index = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": index_entries}
        out.add_bytes("index.json", oci.canonical_json(index))
        if fmt == "docker":
            out.add_bytes("manifest.json", oci.canonical_json(docker_manifest))
        out.close()

    with store.adding():
        if layout_dir:
            from .layout_dir import LayoutDirOut

            with LayoutDirOut(dest) as out:
                fill(None, out)
        elif hasattr(dest, "write"):
            fill(dest)
        elif dest == "-":
            import sys

            fill(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            write_atomically(dest, fill)
