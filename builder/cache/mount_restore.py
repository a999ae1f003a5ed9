"""`--cache-from` restores the cache mounts a cache artifact carries (mount_records.py), each
right before the first RUN step of the build that mounts it, and only on a runner that has no
directory for it: a runner's own cache mount is never replaced (it may be newer than the
artifact's, and another build may be using it); the build says which copy it kept.

The artifact is as untrusted as any pulled layer: the blob must have the size and digest its
descriptor names and may not be larger than the source's cache-mounts-limit (1g), nor may its
tar; the tar is unpacked with layers/extract.py in its non-layer mode (every write through
runtime.tree: no `..`, nothing through a link, no hard link out of the tree, no device node
or FIFO) into a scratch directory, then renamed into place whole. A mount that fails any of
this is not restored (a warning): the step starts with an empty cache and the build goes on."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

from runtime.tree import Tree, remove

from ..bounded import open_regular_file, size_text
from ..errors import CairnError
from ..layers.compression import DECOMPRESS_ERRORS, decompressed
from ..layers.extract import extract_tar
from ..store.blobs import BlobStore
from ..store.cache_mounts import last_used
from .manifest import CacheFormatError

_CHUNK = 1 << 20


class _Checked:
    """Reads the tar out of the blob, hashing it, and stops past `limit` bytes."""

    def __init__(self, stream, limit: int):
        self.stream, self.limit, self.size = stream, limit, 0
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.size += len(data)
        if self.size > self.limit:
            raise CacheFormatError(f"its tar is larger than the limit, {size_text(self.limit)} "
                                   "(cache-mounts-limit=SIZE on --cache-from raises it)")
        self.hash.update(data)
        return data


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


class MountRestore:
    """The cache mounts of a build's --cache-from sources (RemoteCaches), restored on demand."""

    def __init__(self, store, remote, info, warn):
        self.store, self.remote, self.info, self.warn = store, remote, info, warn
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def before_mount(self, mount_id: str, base: str, name: str) -> None:
        """Called before a step mounts cache `mount_id` (directory `name` in `base`)."""
        with self.lock:
            if mount_id in self.seen:
                return
            self.seen.add(mount_id)
            source = next((s for s in self.remote.sources if mount_id in s.mounts), None)
            if source is None:
                return
            record = source.mounts[mount_id]
            if os.path.lexists(os.path.join(base, name)):
                self.info(f"cache mount {mount_id!r}: kept this runner's copy (last used "
                          f"{_when(last_used(base, name))}); the copy in {source.name} (exported "
                          f"{_when(record.created)}) is not restored")
                return
            try:
                self._restore(source, record, base, name)
            except (CairnError, CacheFormatError, OSError) as err:
                self.warn(f"cache mount {mount_id!r} from {source.name} is not restored, the step starts with "
                          f"an empty cache: {getattr(err, 'strerror', None) or err}")
                return
            self.info(f"cache mount {mount_id!r}: restored from {source.name} ({size_text(record.size)} "
                      f"exported {_when(record.created)})")

    def _restore(self, source, record, base: str, name: str) -> None:
        limit = source.spec.mounts_limit
        if record.size > limit or record.layer.size > limit:
            raise CacheFormatError(f"it is larger than the limit, {size_text(limit)} "
                                   "(cache-mounts-limit=SIZE on --cache-from raises it)")
        scratch = self.store.new_tmp_dir("cache-mount-restore-")
        try:
            blobs = BlobStore(scratch / "blobs", scratch)
            self._fetch(source, record.layer, blobs)
            content = scratch / "content"
            os.mkdir(content, 0o700)
            with blobs.open(record.layer.digest) as raw:
                tar = _Checked(decompressed(raw, record.layer.media_type), limit)
                try:
                    extract_tar(tar, str(content), layer=False)
                    while tar.read(_CHUNK):
                        pass
                except DECOMPRESS_ERRORS as err:
                    raise CacheFormatError(f"its blob cannot be decompressed: {err}") from None
            if f"sha256:{tar.hash.hexdigest()}" != record.diff_id:
                raise CacheFormatError(f"its tar does not match its diff_id {record.diff_id}")
            fd = os.open(content, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                os.fchown(fd, record.uid, record.gid)
                os.fchmod(fd, record.mode & 0o7777)
            finally:
                os.close(fd)
            os.rename(content, os.path.join(base, name))
        finally:
            with Tree(scratch.parent) as t:
                remove(t.fd, scratch.name)

    def _fetch(self, source, desc, blobs: BlobStore) -> None:
        """The blob into `blobs`, checked against its descriptor's size and digest."""
        if source.spec.type == "registry":
            from ..registry.client import shared

            ref = source.spec.ref
            with shared(ref.domain, self.remote.registry_options) as client:
                client.fetch_blob(ref.path, desc.digest, desc.size, lambda: blobs.writer(desc.digest))
            return
        path = Path(source.spec.path) / "blobs" / desc.digest.algorithm / desc.digest.hex
        with open_regular_file(path, f"the cache mount blob {desc.digest}") as src, blobs.writer(desc.digest) as w:
            while chunk := src.read(_CHUNK):
                w.write(chunk)
                if w.size > desc.size:
                    raise CacheFormatError(f"its blob is larger than its descriptor says ({desc.size} bytes)")
            if w.size != desc.size:
                raise CacheFormatError(f"its blob has {w.size} bytes, its descriptor says {desc.size}")
            w.commit()
