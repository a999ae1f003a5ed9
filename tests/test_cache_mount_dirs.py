"""RUN --mount=type=cache directories as `cairn cache` shows and removes them: `cache ls`
lists each (id, size, last used), `cache du` counts them, `cache prune --filter
type=cache-mount` removes only them and `cache prune --all` removes them with the records,
so the next build's step starts with an empty cache. Removing or sizing a cache mount never
follows a link a RUN left in it."""

from __future__ import annotations

import os

import pytest

from builder.store import cache_mounts

from .conftest import cairn_cli, remove_test_bridge

DOCKERFILE = """\
FROM busybox:local
RUN --mount=type=cache,id=pip,target=/root/.cache/pip \\
    --mount=type=cache,target=/var/cache/apt \\
    ls /root/.cache/pip > /seen && dd if=/dev/zero of=/root/.cache/pip/wheel bs=1024 count=200 2>/dev/null \\
    && touch /var/cache/apt/pkg
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory, busybox_tar):
    if os.geteuid() != 0:
        pytest.skip("builds need root")
    root = tmp_path_factory.mktemp("mountdirs")
    ctx = tmp_path_factory.mktemp("mountdirs-ctx")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    assert cairn_cli("import", str(busybox_tar), "busybox:local", root=root).returncode == 0
    yield root, ctx
    remove_test_bridge()


def cli(root, *args) -> tuple[int, str]:
    res = cairn_cli(*args, root=root)
    return res.returncode, res.stdout.decode() + res.stderr.decode()


def mount_rows(root) -> list[list[str]]:
    _, out = cli(root, "cache", "ls")
    return [line.split() for line in out.splitlines() if " MOUNT " in line]


def test_cache_mounts_are_listed_and_pruned(project):
    root, ctx = project
    code, out = cli(root, "build", "--progress", "plain", "--no-cache", str(ctx))
    assert code == 0, out[-2000:]
    rows = mount_rows(root)
    assert sorted(r[-1] for r in rows) == ["type=cache,id=/var/cache/apt", "type=cache,id=pip"]
    pip = next(r for r in rows if r[-1].endswith("=pip"))
    assert pip[2].endswith("kB") and float(pip[2][:-2]) >= 200 and pip[3].count("-") == 2  # size, date
    _, du = cli(root, "cache", "du")
    assert any(line.split()[0] == "MOUNT" for line in du.splitlines())
    assert cli(root, "cache", "prune", "--filter", "type=nonsense")[0] == 2
    code, out = cli(root, "cache", "prune", "--filter", "type=cache-mount")
    assert (code, out.split(";")[0]) == (0, "Removed 2 cache mounts")
    assert mount_rows(root) == [] and os.listdir(root / "cache-mounts") == []
    _, listing = cli(root, "cache", "ls")
    assert " RUN " in listing  # the step records stay
    assert cli(root, "build", "--no-cache", str(ctx))[0] == 0
    assert len(mount_rows(root)) == 2
    code, out = cli(root, "cache", "prune", "--all")
    assert code == 0 and "and 2 cache mounts" in out, out
    assert mount_rows(root) == []


def test_removing_a_cache_mount_follows_no_link(tmp_path):
    """A RUN can leave any link in its cache: sizing and removing stay inside the directory."""
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "precious").write_bytes(b"x" * 100_000)
    base = tmp_path / "cache-mounts"
    (base / "abc" / "sub").mkdir(parents=True)
    (base / "abc" / "sub" / "f").write_bytes(b"y" * 8192)
    os.symlink(outside, base / "abc" / "link")
    os.symlink(outside / "precious", base / "abc" / "sub" / "file-link")
    cache_mounts.record_use(str(base), "abc", "npm\x1b[31m")
    [m] = cache_mounts.list_mounts(str(base))
    assert (m.name, m.id) == ("abc", "npm\x1b[31m") and 8192 <= m.size < 100_000
    cache_mounts.remove(str(base), ["abc"])
    assert os.listdir(base) == [] and (outside / "precious").stat().st_size == 100_000
