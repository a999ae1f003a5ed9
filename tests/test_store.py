"""The store: blobs, import, tags, removal, pruning, checks, concurrency and crashes."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from builder.archive.rootfs_import import import_rootfs
from builder.image.digest import Digest
from builder.store import images
from builder.store.blobs import BlobError
from builder.store.maintenance import check, prune
from builder.store.store import Store

from .conftest import REPO, cairn_cli


def test_blob_put_verifies_and_skips_existing(store):
    d = store.blobs.put(b"hello")
    assert d == Digest.of(b"hello") and store.blobs.read(d) == b"hello"
    assert store.blobs.put(b"hello") == d
    with pytest.raises(BlobError):
        store.blobs.put(b"other", expected=d)
    assert os.listdir(store.tmp_dir) == []


def test_corrupt_blob_is_found_by_check_and_read(store):
    d = store.blobs.put(b"content")
    store.blobs.path(d).write_bytes(b"tampered")
    with pytest.raises(BlobError, match="corrupt"):
        store.blobs.read(d)
    report = check(store)
    assert not report.ok and any(str(d) in p for p in report.problems)


def test_import_is_reproducible_across_stores(tmp_path, busybox_tar):
    digests = []
    for name in ("one", "two"):
        with Store(tmp_path / name) as s:
            img = import_rootfs(s, str(busybox_tar), "busybox:local")
            digests.append((img.manifest, img.config))
            assert check(s).ok
    assert digests[0] == digests[1]


def test_import_applies_changes(store, busybox_tar):
    img = import_rootfs(store, str(busybox_tar), "bb:1", ['CMD ["/bin/sh"]', "ENV A=1", "WORKDIR /srv",
                                                          "EXPOSE 80 53/udp", "LABEL k=v", "USER nobody"])
    _, config = images.load_documents(store, img)
    cfg = config.config
    assert cfg["Cmd"] == ["/bin/sh"] and cfg["Env"] == ["A=1"] and cfg["WorkingDir"] == "/srv"
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}} and cfg["Labels"] == {"k": "v"}
    assert cfg["User"] == "nobody"
    assert config.doc["history"][0]["created_by"] == "cairn import"


def test_tag_resolve_and_remove(store, busybox_tar):
    img = import_rootfs(store, str(busybox_tar), "busybox:local")
    images.tag_image(store, "busybox:local", "example.com/team/bb:v1")
    assert images.resolve(store, "example.com/team/bb:v1").manifest == img.manifest
    assert images.resolve(store, img.id.hex[:12]).manifest == img.manifest
    assert images.resolve(store, str(img.manifest)).manifest == img.manifest
    assert images.remove_image(store, "busybox:local") == ["Untagged: busybox:local"]
    out = images.remove_image(store, "example.com/team/bb:v1")
    assert out == ["Untagged: example.com/team/bb:v1", f"Deleted: {img.id}"]
    with pytest.raises(images.ImageNotFound):
        images.resolve(store, "busybox:local")
    res = prune(store)
    assert res.blobs == 2 and res.snapshots == 1
    assert store.blobs.all() == [] and os.listdir(store.snapshots_dir) == []
    assert check(store).ok


def test_prune_keeps_what_images_use(store, busybox_tar):
    import_rootfs(store, str(busybox_tar), "busybox:local")
    store.blobs.put(b"orphan")
    res = prune(store)
    assert res.blobs == 1 and res.snapshots == 0
    assert check(store).ok and images.resolve(store, "busybox:local")


def test_disk_full_leaves_the_store_unchanged(tmp_path, busybox_tar):
    """A real ENOSPC: the store lives on a 1 MiB tmpfs and the rootfs is 2 MiB."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        with Store(mnt / "store") as s:
            with pytest.raises(OSError) as info:
                import_rootfs(s, str(busybox_tar), "busybox:local")
            assert info.value.errno == errno.ENOSPC
            assert images.list_images(s) == []
            assert os.listdir(s.tmp_dir) == [] and os.listdir(s.snapshots_dir) == []
            assert check(s).ok
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_cli_errors_for_unknown_and_malformed_references(tmp_path):
    res = cairn_cli("inspect", "nosuch:image", root=tmp_path / "s")
    assert res.returncode == 1 and res.stderr == b"Error: No such object: nosuch:image\n"  # docker's words
    res = cairn_cli("tag", "nosuch", "Bad:Name", root=tmp_path / "s")
    assert res.returncode == 1
    res = cairn_cli("import", "/nonexistent.tar", "x", root=tmp_path / "s")
    assert res.returncode == 1 and b"cannot read /nonexistent.tar" in res.stderr
    res = cairn_cli("import", "/dev/null", "UPPER", root=tmp_path / "s")
    assert res.returncode == 2 and b"lowercase" in res.stderr
    for r in (res,):
        assert b"Traceback" not in r.stderr


def test_cli_import_images_inspect(tmp_path, busybox_tar):
    root = tmp_path / "s"
    res = cairn_cli("import", "-c", "CMD [\"sh\"]", str(busybox_tar), "busybox:local", root=root)
    assert res.returncode == 0, res.stderr
    image_id = res.stdout.decode().strip()
    listing = cairn_cli("images", root=root).stdout.decode().splitlines()
    assert listing[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert listing[1].split()[:3] == ["busybox", "local", image_id.split(":")[1][:12]]
    import json

    doc = json.loads(cairn_cli("inspect", "busybox:local", root=root).stdout)
    assert doc[0]["Id"] == image_id and doc[0]["RepoTags"] == ["busybox:local"]
    assert doc[0]["Config"]["Cmd"] == ["sh"] and len(doc[0]["RootFS"]["Layers"]) == 1
    assert cairn_cli("store", "check", root=root).returncode == 0


def test_concurrent_imports_and_tags_share_one_store(tmp_path, busybox_tar):
    root = tmp_path / "shared"
    script = (
        "import sys\n"
        "from builder.store.store import Store\n"
        "from builder.archive.rootfs_import import import_rootfs\n"
        "from builder.store import images\n"
        "s = Store(sys.argv[1])\n"
        "for i in range(4):\n"
        "    import_rootfs(s, sys.argv[2], f'bb:{sys.argv[3]}-{i}')\n"
        "    images.tag_image(s, f'bb:{sys.argv[3]}-{i}', f'bb:{sys.argv[3]}-t{i}')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(root), str(busybox_tar), name], cwd=REPO)
             for name in ("a", "b")]
    for p in procs:
        assert p.wait(timeout=240) == 0
    with Store(root) as s:
        tags = sorted(t for img in images.list_images(s) for t in img.tags)
        assert len(tags) == 16
        assert len(images.list_images(s)) == 1  # the same content is one image
        assert check(s).ok


def test_kill_9_during_import_leaves_a_consistent_store(tmp_path, busybox_tar):
    root = tmp_path / "crash"
    with Store(root) as s:
        import_rootfs(s, str(busybox_tar), "bb:before")
    script = (
        "import sys\n"
        "from builder.store.store import Store\n"
        "from builder.archive.rootfs_import import import_rootfs\n"
        "s = Store(sys.argv[1])\n"
        "i = 0\n"
        "while True:\n"
        "    import_rootfs(s, sys.argv[2], f'bb:{i}'); i += 1\n"
    )
    for delay in (0.15, 0.4, 0.8):
        p = subprocess.Popen([sys.executable, "-c", script, str(root), str(busybox_tar)], cwd=REPO)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        res = cairn_cli("store", "check", root=root)
        assert res.returncode == 0, res.stdout + res.stderr
    with Store(root) as s:
        assert images.resolve(s, "bb:before")
        prune(s)
        assert check(s).ok and os.listdir(s.tmp_dir) == []


@pytest.mark.parametrize("entries", [
    [("ok", "file", "fine"), ("../escape", "file", "x")],
    [("link", "symlink", "/etc"), ("link/passwd", "file", "owned")],
], ids=["dotdot", "symlink-parent"])
def test_import_of_a_malicious_tar_is_refused_and_changes_nothing(tmp_path, entries):
    from .tarmaker import make_tar

    bad = tmp_path / "bad.tar"
    bad.write_bytes(make_tar(entries))
    root = tmp_path / "s"
    res = cairn_cli("import", str(bad), "evil:1", root=root)
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith(b"error: layer entry") and b"Traceback" not in res.stderr
    assert not (tmp_path / "escape").exists()
    with Store(root) as s:
        assert images.list_images(s) == [] and os.listdir(s.snapshots_dir) == []
        assert os.listdir(s.tmp_dir) == [] and check(s).ok


def test_import_of_a_truncated_tar_is_refused(tmp_path, busybox_tar):
    cut = tmp_path / "cut.tar"
    cut.write_bytes(busybox_tar.read_bytes()[:300_000])
    res = cairn_cli("import", str(cut), "cut:1", root=tmp_path / "s")
    assert res.returncode == 1 and b"truncated" in res.stderr, res.stderr
    with Store(tmp_path / "s") as s:
        assert images.list_images(s) == [] and os.listdir(s.tmp_dir) == []
