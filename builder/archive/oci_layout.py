"""An image from an OCI layout directory (`--build-context NAME=oci-layout://DIR[:TAG][@DIGEST]`).

The directory is untrusted, as a build context is: every file is opened through runtime.tree
inside it (a link there never reaches a host file, a FIFO or a device is never opened),
`index.json` and the manifests and configs are read bounded, and every blob is verified
against its digest as it is copied into the store (archive.load_oci_image, as `cairn load`).
The image is chosen as buildx does: by digest when given, else the index entry whose
`org.opencontainers.image.ref.name` is TAG (default `latest`), else the only entry; when
that is an index, its entry for the stage's platform.
"""

from __future__ import annotations

import os

from runtime.tree import Tree

from ..bounded import MANIFEST_LIMIT, size_text
from ..image import oci
from ..image.digest import Digest
from ..store import images
from ..store.store import Store
from .load import ArchiveError, load_oci_image


class LayoutDir:
    """The read interface archive.load_oci_image takes, over a directory."""

    def __init__(self, root: str):
        self.root = root

    def _fd(self, name: str) -> int:
        with Tree(self.root) as t:
            try:
                return t.open_file(name)
            except OSError as err:
                raise ArchiveError(f"OCI layout {self.root}: cannot read {name}: {err.strerror}") from None

    def open(self, name: str):
        fd = self._fd(name)
        return _Bounded(os.fdopen(fd, "rb"), os.fstat(fd).st_size)

    def read(self, name: str, limit: int = MANIFEST_LIMIT) -> bytes:
        with self.open(name) as f:
            if f.left > limit:
                raise ArchiveError(f"OCI layout {self.root}: {name} is {f.left} bytes, larger than the "
                                   f"{size_text(limit)} cairn reads for it")
            return f.read(limit)


class _Bounded:
    """A file read no further than the size it had when opened."""

    def __init__(self, f, size: int):
        self.f, self.left = f, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.f.read(n)
        self.left -= len(data)
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def choose(layout: LayoutDir, tag: str, digest: Digest | None) -> oci.Descriptor:
    """The index.json entry the context names."""
    try:
        index = oci.Index.parse(layout.read("index.json"))
    except oci.ImageFormatError as err:
        raise ArchiveError(f"OCI layout {layout.root}: index.json: {err}") from None
    if digest is not None:
        for desc in index.manifests:
            if desc.digest == digest:
                return desc
        raise ArchiveError(f"OCI layout {layout.root} has no image {digest}")
    for desc in index.manifests:
        if desc.annotation(oci.REF_NAME_ANNOTATION) == tag:
            return desc
    if len(index.manifests) == 1:
        return index.manifests[0]
    raise ArchiveError(f"OCI layout {layout.root} has no image tagged {tag!r} "
                       f"(and {len(index.manifests)} images, not one)")


def load_layout_image(store: Store, root: str, tag: str = "latest", digest: Digest | None = None,
                      platform: dict | None = None) -> images.ImageRecord:
    """Copy the image (for `platform` when it is an index; the host's by default) into the
    store, untagged, and return it."""
    layout = LayoutDir(root)
    desc = choose(layout, tag, digest)
    with store.adding():
        return load_oci_image(store, layout, desc, [], platform)
