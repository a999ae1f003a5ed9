"""A docker-archive (what `docker save` writes and `cairn load` reads) made from layer tars
that a test crafts, so that hostile layers reach a store as a pulled image's would."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path


def docker_archive(path: Path, ref: str, layers: list[bytes], arch: str = "amd64") -> Path:
    """Write a docker-archive holding one image `ref` whose layers (bottom first) are `layers`."""
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps({"architecture": arch, "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    names = [f"{d[7:]}/layer.tar" for d in diff_ids]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [ref], "Layers": names}]).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in [(config_name, config), *zip(names, layers), ("manifest.json", manifest)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
