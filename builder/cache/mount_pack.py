"""The build's cache mounts as blobs for a cache export (`cache-mounts=true`).

The build notes the RUN --mount=type=cache mounts of every RUN step it keyed (hit or not: a
hit's mount holds what an earlier run left; executor/run_mounts.UsedMounts). `pack` writes each such directory of the
store as a compressed tar into a scratch directory: read from fds, no link followed (a
container of another build may be changing it meanwhile: layers/tarstream.write_tar_at),
devices and FIFOs left out, and at most `limit` bytes of tar per mount; a larger mount, or
one that changes under the reader, is left out of the export with a warning."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from runtime.record import Record, record

from ..bounded import size_text
from ..errors import CairnError
from ..image import oci
from ..layers.compression import MEDIA_TYPES, compressor
from ..layers.hashing import HashingWriter
from ..layers.tarstream import TarOptions, write_tar_at
from ..store.blobs import BlobStore
from ..store.cache_mounts import dir_name as cache_dir_name
from .mount_records import MAX_MOUNTS, MountRecord


@record
class PackedMount(Record):
    record: MountRecord
    path: Path  # the blob's file


class _TooLarge(CairnError):
    pass


class _Bounded:
    """Passes bytes on until more than `limit` went through, then raises _TooLarge."""

    def __init__(self, sink, limit: int):
        self.sink, self.limit, self.size = sink, limit, 0

    def write(self, data) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise _TooLarge(f"larger than {size_text(self.limit)}")
        return self.sink.write(data)


def pack(store, used, limit: int, compression: str, scratch: Path, warn) -> list[PackedMount]:
    """Each used cache mount the store holds, as a blob in `scratch`."""
    base = str(store.layout.cache_mounts)
    blobs = BlobStore(scratch / "blobs", scratch)
    out = []
    for mount_id, sharing in sorted(used.by_id.items())[:MAX_MOUNTS]:
        try:
            fd = os.open(os.path.join(base, cache_dir_name(mount_id)),
                         os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # (a step that hit never made it here)
        try:
            st = os.fstat(fd)
            with blobs.writer() as w:
                tar = HashingWriter(comp := compressor(compression, w))
                write_tar_at(fd, _Bounded(tar, limit), TarOptions())
                comp.close()
                digest = w.commit()
        except (_TooLarge, OSError) as err:
            warn(f"cache mount {mount_id!r} is not exported: {getattr(err, 'strerror', None) or err}"
                 + (" (raise cache-mounts-limit to export it)" if isinstance(err, _TooLarge) else ""))
            continue
        finally:
            os.close(fd)
        layer = oci.Descriptor(MEDIA_TYPES[compression], digest, w.size)
        out.append(PackedMount(MountRecord(mount_id, sharing, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode),
                                           str(tar.digest), tar.size, time.time(), layer), blobs.path(digest)))
    return out
