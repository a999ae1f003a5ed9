"""Where everything lives under a store root: the one place that names its directories
and files. Code elsewhere asks `store.layout` for a path and never spells a name itself."""

from __future__ import annotations

from pathlib import Path

# The store is private to the user who owns it: other users may not read its layers,
# its database (cache records, stat cache) or its containers' files.
PRIVATE_DIRS = ("", "blobs", "blobs/sha256", "snapshots", "tmp", "leases", "containers", "cache-mounts", "network")
PRIVATE_FILES = ("cairn.db", "cairn.db-wal", "cairn.db-shm", "lock", "init.lock")


class StoreLayout:
    def __init__(self, root: Path):
        self.root = root
        self.database = root / "cairn.db"
        self.lock = root / "lock"
        self.init_lock = root / "init.lock"
        self.blobs = root / "blobs" / "sha256"     # content-addressed blobs, named by hex digest
        self.snapshots = root / "snapshots"        # unpacked layers, named by diff_id hex
        self.tmp = root / "tmp"                    # work in progress, renamed into place when done
        self.leases = root / "leases"              # what running builds use (kept from prune)
        self.containers = root / "containers"      # one directory per container (containers/dirs.py)
        self.cache_mounts = root / "cache-mounts"  # RUN --mount=type=cache directories
        self.network = root / "network"            # the bridge's address table of this store
        self.volumes = root / "volumes"            # named volumes of `cairn run`

    def container(self, container_id: str) -> Path:
        return self.containers / container_id
