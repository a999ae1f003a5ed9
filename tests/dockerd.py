"""A private Docker engine for tests that compare with docker, started only where dockerd exists.

It listens on its own socket with its own data root and no iptables rules; its docker0
bridge (10.91.0.1/24, which BuildKit's RUN steps need) is deleted afterwards. It is stopped
and cleaned up (mounts included) when the module that used it ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _unmount_below(path: str) -> None:
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(path)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


@pytest.fixture(scope="module")
def docker_engine():
    """Yields an env dict (DOCKER_HOST) for /usr/bin/docker, or skips."""
    dockerd = shutil.which("dockerd")
    if dockerd is None or not os.path.exists("/usr/bin/docker") or os.geteuid() != 0:
        pytest.skip("no Docker engine here (Debian's docker.io provides one)")
    base = tempfile.mkdtemp(prefix="cairn-dockerd-")
    sock = f"{base}/d.sock"
    log = open(f"{base}/log", "wb")
    proc = subprocess.Popen(
        [dockerd, "--data-root", f"{base}/root", "--exec-root", f"{base}/exec", "-H", f"unix://{sock}",
         "--pidfile", f"{base}/pid", "--bip", "10.91.0.1/24", "--iptables=false", "--ip-masq=false"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}", DOCKER_BUILDKIT="1")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.skip(f"dockerd exited: {Path(base, 'log').read_text()[-500:]}")
            if subprocess.run(["/usr/bin/docker", "version"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.5)
        else:
            pytest.skip("dockerd did not start within 60 s")
        yield env
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        _unmount_below(base)
        subprocess.run(["ip", "link", "del", "docker0"], capture_output=True)  # BuildKit's RUN needs it
        shutil.rmtree(base, ignore_errors=True)
