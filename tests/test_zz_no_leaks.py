"""Runs last: the suite must leave no mount, network namespace, link or cgroup behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def test_no_mounts_left():
    with open("/proc/mounts") as f:
        ours = [line.split()[1] for line in f if "cairn" in line.split()[1] or "pytest-of" in line.split()[1]]
    assert ours == []


def test_no_cgroups_left():
    left = []
    for top in Path("/sys/fs/cgroup").iterdir():
        if top.is_dir():
            left += [str(p) for p in top.rglob("cairn*") if p.is_dir()]
    assert left == []


def test_no_network_namespaces_or_links_left():
    if os.geteuid() != 0:
        return
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "cairn" not in netns
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert not [line for line in links.splitlines() if "cairn" in line or "veth" in line]
