"""A private dockerd for benchmarks that compare with docker / BuildKit (when installed).

Own data root and socket, no iptables rules, docker0 on 10.91.0.1/24 (BuildKit's RUN needs
a bridge); stop_dockerd unmounts what it left and deletes docker0.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path


def start_dockerd(base: Path):
    dockerd = shutil.which("dockerd")
    if dockerd is None or not os.path.exists("/usr/bin/docker"):
        return None, None
    sock = base / "d.sock"
    proc = subprocess.Popen([dockerd, "--data-root", str(base / "root"), "--exec-root", str(base / "exec"),
                             "-H", f"unix://{sock}", "--pidfile", str(base / "pid"), "--iptables=false",
                             "--bip", "10.91.0.1/24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    for _ in range(120):
        if subprocess.run(["/usr/bin/docker", "version"], env=env, capture_output=True).returncode == 0:
            return proc, env
        time.sleep(0.5)
    proc.kill()
    return None, None


def stop_dockerd(proc, base: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(str(base))]
    for p in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", p], check=False)
    subprocess.run(["ip", "link", "del", "docker0"], capture_output=True)


def load_base_image(cairn: str, cairn_env: dict, denv: dict, work: Path) -> None:
    """Give dockerd the same busybox:local image the cairn store holds."""
    archive = work / "busybox-local-docker.tar"
    subprocess.run([cairn, "save", "-o", str(archive), "busybox:local"], env=cairn_env, check=True)
    subprocess.run(["/usr/bin/docker", "load", "-i", str(archive)], env=denv, check=True,
                   stdout=subprocess.DEVNULL)
