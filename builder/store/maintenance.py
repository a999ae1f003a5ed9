"""`cairn store check` and `cairn prune`: verify the store, and remove what nothing uses.

check: every blob file matches its name's digest; every image's manifest and config
exist and verify; each layer is present as a blob, or (uncompressed descriptors) as a
snapshot; every recorded snapshot and layer blob exists; every snapshot a COPY made (those
whose files an incremental COPY may share) still gives the tar of its diff_id. Unreferenced files are reported,
not counted as faults (a crash may leave them; prune removes them).

prune holds the store's exclusive lock, so no other process is between writing a file
and recording it while files are deleted; it keeps the snapshots and temp entries that
live processes lease (running containers, builds in progress).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from ..image import oci
from ..image.digest import Digest, DigestError
from . import snapshot_files
from .leases import live_leases
from .store import Store, remove_tree


@dataclass
class CheckReport:
    blobs: int = 0
    images: int = 0
    snapshots: int = 0
    problems: list[str] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _referenced(store: Store) -> tuple[set[str], set[str]]:
    """(blob digests, snapshot diff_ids) that images and cache records use."""
    blobs: set[str] = set()
    diff_ids: set[str] = set()
    for manifest, config in store.conn.execute("SELECT manifest, config FROM images"):
        blobs.update((manifest, config))
    for diff_id, blob in store.conn.execute("SELECT diff_id, blob FROM image_layers"):
        diff_ids.add(diff_id)
        blobs.add(blob)
    for (diff_id,) in store.conn.execute("SELECT diff_id FROM cache_records WHERE diff_id IS NOT NULL"):
        diff_ids.add(diff_id)
    for diff_id, blob in store.conn.execute("SELECT diff_id, blob FROM layer_blobs"):
        if diff_id in diff_ids:
            blobs.add(blob)
    return blobs, diff_ids


def check(store: Store) -> CheckReport:
    report = CheckReport()
    present: set[str] = set()
    for digest in store.blobs.all():
        report.blobs += 1
        present.add(str(digest))
        if not store.blobs.verify(digest):
            report.problems.append(f"blob {digest} does not match its digest")
    snapshots = {row[0] for row in store.conn.execute("SELECT diff_id FROM snapshots")}
    for diff_id in sorted(snapshots):
        report.snapshots += 1
        if not store.snapshot_path(Digest.parse(diff_id)).is_dir():
            report.problems.append(f"snapshot {diff_id} is recorded but its directory is missing")
    _check_copied_snapshots(store, snapshots, report)
    for (diff_id, blob) in store.conn.execute("SELECT diff_id, blob FROM layer_blobs"):
        if blob not in present:
            report.problems.append(f"layer {diff_id}: recorded blob {blob} is missing")

    rows = store.conn.execute("SELECT manifest, config FROM images").fetchall()
    for manifest_digest, config_digest in rows:
        report.images += 1
        where = f"image {manifest_digest}"
        for what, digest in (("manifest", manifest_digest), ("config", config_digest)):
            if digest not in present:
                report.problems.append(f"{where}: {what} blob {digest} is missing")
        if manifest_digest in present:
            try:
                manifest = oci.Manifest.parse(store.blobs.read(Digest.parse(manifest_digest), verify=False))
                if str(manifest.config.digest) != config_digest:
                    report.problems.append(f"{where}: manifest names config {manifest.config.digest}, "
                                           f"record says {config_digest}")
            except oci.ImageFormatError as err:
                report.problems.append(f"{where}: manifest is invalid: {err}")
        layers = store.conn.execute(
            "SELECT position, diff_id, blob, media_type FROM image_layers WHERE manifest=? ORDER BY position",
            (manifest_digest,)).fetchall()
        for pos, diff_id, blob, media_type in layers:
            if blob in present:
                continue
            if blob == diff_id and oci.LAYER_COMPRESSION.get(media_type) == "none" and diff_id in snapshots:
                continue  # rewritten from its snapshot on demand
            if store.conn.execute("SELECT 1 FROM blob_locations WHERE blob=?", (blob,)).fetchone() or \
                    store.conn.execute("SELECT 1 FROM remote_layers WHERE diff_id=?", (diff_id,)).fetchone():
                continue  # held by a registry; fetched when its bytes are needed
            report.problems.append(f"{where}: layer {pos} ({blob}) is neither stored nor unpacked")

    blobs_used, diff_ids_used = _referenced(store)
    for digest in sorted(present - blobs_used):
        report.unreferenced.append(f"blob {digest}")
    for entry in sorted(os.listdir(store.snapshots_dir)):
        full = f"sha256:{entry}"
        if full not in diff_ids_used:
            report.unreferenced.append(f"snapshot {full}")
    for entry in sorted(os.listdir(store.tmp_dir)):
        report.unreferenced.append(f"temp file tmp/{entry}")
    return report


def _check_copied_snapshots(store: Store, snapshots: set[str], report: CheckReport) -> None:
    """The snapshots an incremental COPY may share files with (those with a file list) still
    give the tar their diff_id names: no write to a shared file went unnoticed."""
    from ..layers.tarstream import TAR_FORMAT, TarOptions
    from .materialize import tar_digest

    if store.tar_format() != TAR_FORMAT:
        return  # (written by an older tar format: its snapshots' tars are not ours to recompute)
    for diff_id in snapshot_files.listed(store):
        if diff_id not in snapshots:
            continue
        digest = Digest.parse(diff_id)
        path = store.snapshot_path(digest)
        if not path.is_dir():
            continue  # (reported above)
        made, _size = tar_digest(path, TarOptions(store.snapshot_epoch(digest)))
        if made != digest:
            report.problems.append(f"snapshot {diff_id}: its files were changed (their tar is {made})")


@dataclass(frozen=True)
class PruneResult:
    blobs: int
    snapshots: int
    bytes: int


def _tree_size(path) -> int:
    """The bytes removing the tree frees: a file counts once its last link is in it (snapshots
    share the files an incremental COPY linked; a removed one frees only what no other holds)."""
    from runtime.lstat_walk import lstat_walk  # (no recursion per level: os.walk's was, for a deep tree)

    total = 0
    seen: dict[tuple[int, int], int] = {}
    for _, st in lstat_walk(path):
        if stat.S_ISDIR(st.st_mode):
            continue
        key = (st.st_dev, st.st_ino)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == st.st_nlink:
            total += st.st_size
    return total


def prune(store: Store) -> PruneResult:
    with store.exclusive():
        live = live_leases(store.layout.leases, store.lease.id)
        for entry in os.listdir(store.tmp_dir):
            if not live.owns_tmp(entry):
                remove_tree(store.tmp_dir / entry)
        blobs_used, diff_ids_used = _referenced(store)
        diff_ids_used |= live.snapshots  # running containers and builds in progress
        freed = removed_blobs = removed_snaps = 0
        for digest in store.blobs.all():
            if str(digest) not in blobs_used:
                freed += store.blobs.path(digest).stat().st_size
                store.blobs.remove(digest)
                removed_blobs += 1
        for entry in os.listdir(store.snapshots_dir):
            full = f"sha256:{entry}"
            if full in diff_ids_used:
                continue
            path = store.snapshots_dir / entry
            freed += _tree_size(path)
            remove_tree(path)
            removed_snaps += 1
        with store.transaction() as c:
            for (diff_id,) in c.execute("SELECT diff_id FROM snapshots").fetchall():
                if diff_id not in diff_ids_used:
                    c.execute("DELETE FROM snapshots WHERE diff_id=?", (diff_id,))
            snapshot_files.forget_unrecorded(c)
            for (diff_id, blob) in c.execute("SELECT diff_id, blob FROM layer_blobs").fetchall():
                try:
                    gone = not store.blobs.has(Digest.parse(blob))
                except DigestError:
                    gone = True
                if gone:
                    c.execute("DELETE FROM layer_blobs WHERE diff_id=? AND blob=?", (diff_id, blob))
    return PruneResult(removed_blobs, removed_snaps, freed)
