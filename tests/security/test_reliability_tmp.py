"""What a cairn killed with -9 leaves in the store's tmp/ (a RUN's upper dir, a half-written
blob) is removed by the next build, and only that: a live process's temp files stay."""

from __future__ import annotations

import os
import subprocess
import sys

from builder.store.maintenance import prune
from builder.store.store import Store

from ..conftest import REPO

HALF_DONE = """
import sys, time
from builder.store.store import Store
s = Store(sys.argv[1])
d = s.new_tmp_dir("run-upper-")
(d / "big").write_bytes(b"x" * 100000)
w = s.blobs.writer()
w.write(b"half a blob")
w._file.flush()
print("ready", flush=True)
time.sleep(120)
"""


def _killed_halfway(root) -> None:
    """A cairn process that made a temp dir and half a blob in the store, then got kill -9."""
    proc = subprocess.Popen([sys.executable, "-c", HALF_DONE, str(root)], cwd=REPO, stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_temp_files_of_killed_processes_go_and_live_ones_stay(store):
    _killed_halfway(store.root)
    assert len(os.listdir(store.tmp_dir)) == 2
    mine = store.new_tmp_dir("run-upper-")
    with store.blobs.writer() as w:
        w.write(b"being written")
        other = Store(store.root)  # another live process's view (its own lease)
        try:
            theirs = other.new_tmp_dir("copy-")
            store.remove_orphaned_tmp()
            left = sorted(os.listdir(store.tmp_dir))
        finally:
            other.close()
    assert len(left) == 3 and mine.name in left and theirs.name in left


def test_names_without_a_lease_are_left_alone(store):
    (store.tmp_dir / "snap-12345678").mkdir()  # an older cairn's name: nothing says it is dead
    store.remove_orphaned_tmp()
    assert os.listdir(store.tmp_dir) == ["snap-12345678"]


def test_prune_removes_temp_files_too(store):
    _killed_halfway(store.root)
    (store.tmp_dir / "blob-old").write_bytes(b"half a blob")  # rmtree alone left plain files
    prune(store)
    assert os.listdir(store.tmp_dir) == []


def test_a_store_opened_while_another_process_cleans_up_opens(store, monkeypatch):
    """Another cairn's clean-up (a build's, at its start) that runs between the new lease file's
    creation and its lock left it alone: it removed the file, the lease's rename failed, and
    cairn serve answered one of ten concurrent `docker run -d` "internal error: FileNotFoundError".
    A lease file left half-made by a process that is gone is still removed."""
    from builder.store import leases

    ended = subprocess.Popen(["true"])
    ended.wait()  # (a pid that no longer runs)
    left = store.layout.leases / f".new-{ended.pid}-0123456789ab"
    left.write_text("")
    real = leases.fcntl.flock

    def flock_after_a_cleanup(fd, op):
        if op == leases.fcntl.LOCK_SH:
            store.remove_orphaned_tmp()  # (what another process's build does right then)
        return real(fd, op)

    monkeypatch.setattr(leases.fcntl, "flock", flock_after_a_cleanup)
    other = Store(store.root)
    monkeypatch.undo()
    try:
        assert other.lease.path.exists()
        store.remove_orphaned_tmp()
        assert other.lease.path.exists() and not left.exists()
    finally:
        other.close()
