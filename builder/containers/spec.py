"""From an image to a runtime Spec: the one boundary both a RUN step (executor/run_step.py)
and `cairn run` (containers/run.py) cross, as runc's specconv is for runc. It resolves the
user in the image's own /etc files, writes the container's /etc/hosts, /etc/hostname and
/etc/resolv.conf, stacks the overlay root (an image without layers gets an empty lower
dir), and assembles the Spec."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.spec import Overlay, Process, Resources, Root, Spec

from .users import User, image_user  # noqa: F401  (part of this boundary)


def host_resolv_conf() -> str:
    """The host's /etc/resolv.conf, the base of a container's (empty if unreadable)."""
    try:
        return Path("/etc/resolv.conf").read_text()
    except OSError:
        return ""


def write_etc_files(directory: Path, contents: dict[str, str]) -> list[tuple[str, str]]:
    """Write each /etc file (hosts, hostname, resolv.conf...) into `directory`, a directory of
    the container's own on the host; returns (container path, host path) pairs to bind."""
    mounts = []
    for dest, content in contents.items():
        host_path = directory / dest.rsplit("/", 1)[1]
        host_path.write_text(content)
        mounts.append((dest, str(host_path)))
    return mounts


def overlay_root(mountpoint: Path, lowers: list[str], upper: Path, work: Path, empty: Path,
                 readonly: bool = False) -> Root:
    """The container's root: the layers (top first) under its upper dir; an image without
    layers gets `empty`, made here, as its only lower dir."""
    if not lowers:
        os.mkdir(empty)
        lowers = [str(empty)]
    return Root(str(mountpoint), Overlay(tuple(lowers), str(upper), str(work)), readonly=readonly)


def container_spec(*, args, env, cwd: str, user: User, root: Root, hostname: str, files, mounts=(),
                   network: str = "none", resources: Resources | None = None, terminal: bool = False,
                   init: bool = False, rlimits=()) -> Spec:
    return Spec(
        process=Process(args=tuple(args), env=tuple(env), cwd=cwd, uid=user.uid, gid=user.gid,
                        additional_gids=user.groups, terminal=terminal, init=init, rlimits=tuple(rlimits)),
        root=root,
        hostname=hostname,
        mounts=tuple(mounts),
        resources=resources if resources is not None else Resources(),
        files=tuple(files),
        network=network,
    )
