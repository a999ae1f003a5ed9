"""`cairn exec` into a container whose processes are hostile: they have replaced the
commands an operator types (/bin/sh a snooping script, ash and bash links to /proc/self/exe,
dash a `#!/proc/self/exe` script, CVE-2019-5736's trick). What runs sees only the
container's root, and the executable it can reach through /proc/PID/exe is a sealed
in-memory copy, never a host file (cairn's own Python)."""

from __future__ import annotations

import hashlib
import os
import sys

import pytest

from ..conftest import cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

SNOOP = r"""#!/bin/busybox sh
echo "root: $(ls / | tr '\n' ' ')"
for p in "$SENTINEL" /proc/*/root"$SENTINEL" /proc/*/cwd"$SENTINEL"; do
    cat "$p" 2>/dev/null && echo "FOUND $p"
done
for l in /proc/*/fd/* /proc/*/exe /proc/*/cwd /proc/*/root; do
    echo "LINK $l -> $(readlink "$l" 2>/dev/null)"
done
exit 0
"""


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    store = imported_store(tmp_path_factory, busybox_tar, "hostileexec")
    store_root = next(store)
    # the container's own processes replace the commands an operator would exec
    setup = ("echo here > /only-in-container; rm /bin/sh /bin/ash; ln -s /proc/self/exe /bin/bash;"
             "ln -s /proc/self/exe /bin/ash;"
             "printf '#!/proc/self/exe\\n' > /bin/dash; /bin/busybox chmod 755 /bin/dash; exec /bin/busybox sleep 600")
    try:
        res = cairn_cli("run", "-d", "--name", "evil", "--network", "none", "busybox:local", "/bin/busybox",
                        "sh", "-c", setup, root=store_root)
        assert res.returncode == 0, res.stderr
        yield store_root
    finally:
        for cid in cairn_cli("ps", "-aq", root=store_root).stdout.decode().split():
            cairn_cli("rm", "-f", cid, root=store_root)
        store.close()


def test_hostile_commands_reach_no_host_file(root, tmp_path):
    import time

    sentinel = tmp_path / "host-secret"
    sentinel.write_text("host-only-secret\n")
    python = os.path.realpath(sys.executable)
    before = _digest(python)
    # the container's script is written through exec's stdin, by the container's own busybox
    put = cairn_cli("exec", "-i", "evil", "/bin/busybox", "sh", "-c", "cat > /snoop.sh", root=root, stdin=SNOOP.encode())
    assert put.returncode == 0, put.stderr
    deadline = time.monotonic() + 10
    while cairn_cli("exec", "evil", "/bin/busybox", "test", "-L", "/bin/bash", root=root).returncode != 0:
        assert time.monotonic() < deadline, "the container did not replace its commands"
        time.sleep(0.1)
    res = cairn_cli("exec", "evil", "/bin/busybox", "sh", "-c", "cp /snoop.sh /bin/sh && chmod 755 /bin/sh", root=root)
    assert res.returncode == 0, res.stderr

    res = cairn_cli("exec", "-e", f"SENTINEL={sentinel}", "evil", "sh", root=root)
    out = res.stdout.decode()
    assert res.returncode == 0, res.stderr
    assert "only-in-container" in out and "FOUND" not in out and "host-only-secret" not in out
    host_paths = [line for line in out.splitlines() if str(tmp_path) in line or python in line]
    assert host_paths == []

    # ash -> /proc/self/exe: it runs, but what it runs is no host binary, and cannot be written
    # (CVE-2019-5736: keep a handle on it, and reopen it for writing once it no longer runs)
    res = cairn_cli("exec", "evil", "ash", "-c", "readlink /proc/$$/exe; exec 3</proc/$$/exe; exec /bin/busybox sh -c "
                    "'echo pwned >> /proc/self/fd/3 && echo WROTE; readlink /proc/self/fd/3'", root=root)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count(b"memfd:") == 2 and b"WROTE" not in res.stdout
    assert b"Operation not permitted" in res.stderr  # sealed
    res = cairn_cli("exec", "evil", "bash", root=root)
    assert res.returncode == 127 and b"WROTE" not in res.stdout
    # dash: `#!/proc/self/exe`
    res = cairn_cli("exec", "evil", "dash", root=root)
    assert res.returncode != 0 and b"WROTE" not in res.stdout
    assert _digest(python) == before
