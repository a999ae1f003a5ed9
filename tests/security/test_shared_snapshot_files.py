"""Incremental COPY shares inodes between snapshots (an unchanged file is hard-linked from the
step's earlier snapshot). An attacker who can write a file of one snapshot would change every
image that holds it. From the attacker's side, every way a build or container reaches a
snapshot's files: RUN on top (append, chmod, hard link, delete), RUN --mount=type=bind from an
image, rw (a directory and a single file), COPY --from, cairn run (the root, and a volume filled
from the image), an export to a local directory. Afterwards both snapshots hold what they held
and `cairn store check` (which recomputes every COPY snapshot's tar) finds nothing."""

from __future__ import annotations

import hashlib
import os
import stat
import time

import pytest

from builder.cache import fingerprint

from ..conftest import cairn_cli, imported_store, remove_all_containers

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds and containers need root")

ATTACKS = """FROM victim:2 AS on-top
RUN echo evil >> /app/keep; chmod 4777 /app/keep; touch -d @0 /app/keep; ln /app/keep /app/hl; rm -f /app/gone; touch /done
FROM busybox:local AS bind-dir
RUN --mount=type=bind,from=victim:2,source=/app,target=/m,rw \\
    sh -c 'echo evil >> /m/keep; chmod 777 /m/keep; ln /m/keep /m/hl; rm -f /m/gone; echo new > /m/new; touch /done'
FROM busybox:local AS bind-file
RUN --mount=type=bind,from=victim:2,source=/app/keep,target=/k,rw sh -c 'echo evil >> /k; chmod 777 /k; touch /done'
FROM busybox:local AS copy-from
COPY --from=victim:2 /app/ /x/
RUN echo evil >> /x/keep; chmod 777 /x/keep; touch /done
FROM busybox:local
COPY --from=on-top /done /1
COPY --from=bind-dir /done /2
COPY --from=bind-file /done /3
COPY --from=copy-from /done /4
"""


def _digest(path) -> tuple[str, int, int] | None:
    if not os.path.lexists(path):
        return None
    st = os.lstat(path)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), stat.S_IMODE(st.st_mode), st.st_mtime_ns


@pytest.fixture(scope="module")
def shared(tmp_path_factory, busybox_tar):
    """Two builds of one COPY step whose snapshots share the unchanged files' inodes."""
    for root in imported_store(tmp_path_factory, busybox_tar, "sharedsnap"):
        ctx = tmp_path_factory.mktemp("sharedctx")
        (ctx / "app").mkdir()
        for name in ("keep", "gone", "edited"):
            (ctx / "app" / name).write_text(f"{name}\n")
        (ctx / "Dockerfile").write_text("FROM busybox:local\nCOPY app/ /app/\n")
        (ctx / "attack.Dockerfile").write_text(ATTACKS)
        # the stat cache vouches only for files older than fingerprint.RACY_NS (as a real project's
        # are); the builds run as subprocesses, so the files are let age rather than the window shrunk
        time.sleep(fingerprint.RACY_NS / 1e9 + 0.1)
        assert cairn_cli("build", "-t", "victim:1", str(ctx), root=root).returncode == 0
        (ctx / "app" / "edited").write_text("edited again\n")
        res = cairn_cli("build", "--metadata-file", str(ctx / "meta.json"), "-t", "victim:2", str(ctx), root=root)
        assert res.returncode == 0, res.stderr
        keeps = [p / "app" / "keep" for p in (root / "snapshots").iterdir() if (p / "app" / "keep").exists()]
        assert len(keeps) == 2 and os.lstat(keeps[0]).st_ino == os.lstat(keeps[1]).st_ino  # (else: no test)
        try:
            yield root, ctx, keeps
        finally:
            remove_all_containers(root)


def test_no_write_through_a_build_or_container_reaches_a_shared_file(shared, tmp_path):
    root, ctx, keeps = shared
    before = [_digest(p) for p in keeps] + [_digest(p.with_name("gone")) for p in keeps]
    res = cairn_cli("build", "-f", str(ctx / "attack.Dockerfile"), "-t", "attacks", str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    for argv in (["run", "--rm", "victim:2", "sh", "-c", "echo evil >> /app/keep; chmod 777 /app/keep; rm -f /app/gone"],
                 ["run", "--rm", "-v", "sharedvol:/app", "victim:2", "sh", "-c", "echo evil >> /app/keep"]):
        res = cairn_cli(*argv, root=root)
        assert res.returncode == 0, res.stderr
    out = tmp_path / "out"
    assert cairn_cli("build", "-o", f"type=local,dest={out}", str(ctx), root=root).returncode == 0
    with open(out / "app" / "keep", "ab") as f:
        f.write(b"evil\n")
    os.chmod(out / "app" / "keep", 0o777)
    after = [_digest(p) for p in keeps] + [_digest(p.with_name("gone")) for p in keeps]
    assert after == before, "a write reached a snapshot's file"
    check = cairn_cli("store", "check", root=root)
    assert check.returncode == 0 and b" 0 problems" in check.stdout, check.stdout
