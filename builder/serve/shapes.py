"""Store records as docker's JSON: image summaries (GET /images/json), image inspect and
history entries, with times as docker gives them (unix seconds, RFC 3339)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from ..image.reference import parse_reference


def unix_time(text) -> int:
    """An RFC 3339 time from an image config as unix seconds (0 when absent or unreadable)."""
    if not isinstance(text, str):
        return 0
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return 0
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp())


def _config(store, image) -> dict:
    return json.loads(store.blobs.read(image.config, verify=False))


def repo_tags(image) -> list[str]:
    return [parse_reference(t).familiar for t in image.tags]


def repo_digests(image) -> list[str]:
    names = {parse_reference(t).familiar.rsplit(":", 1)[0] for t in image.tags}
    return sorted(f"{name}@{image.manifest}" for name in names)


def image_summary(store, image) -> dict:
    config = _config(store, image)
    return {"Id": str(image.id), "ParentId": "", "RepoTags": repo_tags(image) or ["<none>:<none>"],
            "RepoDigests": repo_digests(image) or ["<none>@<none>"], "Created": unix_time(config.get("created")),
            "Size": image.size, "VirtualSize": image.size, "SharedSize": -1,
            "Labels": (config.get("config") or {}).get("Labels") or {}, "Containers": -1}


def image_inspect(store, image) -> dict:
    config = _config(store, image)
    return {
        "Id": str(image.id), "RepoTags": repo_tags(image), "RepoDigests": repo_digests(image), "Parent": "",
        "Comment": "", "Created": config.get("created") or "0001-01-01T00:00:00Z", "Container": "",
        "ContainerConfig": {}, "DockerVersion": "", "Author": config.get("author", ""),
        "Config": config.get("config") or {}, "Architecture": config.get("architecture", ""),
        "Variant": config.get("variant"), "Os": config.get("os", ""), "Size": image.size,
        "VirtualSize": image.size, "GraphDriver": {"Name": "overlay", "Data": None},
        "RootFS": {"Type": "layers", "Layers": [str(layer.diff_id) for layer in image.layers]},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


def image_history(store, image) -> list[dict]:
    """Newest first, as docker lists it: the top entry carries the image ID and tags, the
    others `<missing>`; an entry that made a layer has that layer's size."""
    config = _config(store, image)
    entries = config.get("history") or []
    sizes = []
    for layer in image.layers:
        snap = store.snapshot_size(layer.diff_id)
        sizes.append(snap if snap is not None else layer.descriptor.size)
    out, next_layer = [], 0
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        size = 0
        if not entry.get("empty_layer") and next_layer < len(sizes):
            size, next_layer = sizes[next_layer], next_layer + 1
        out.append({"Id": "<missing>", "Created": unix_time(entry.get("created")),
                    "CreatedBy": str(entry.get("created_by", "")), "Tags": None, "Size": size,
                    "Comment": str(entry.get("comment", ""))})
    if not out:
        out = [{"Id": "<missing>", "Created": unix_time(config.get("created")), "CreatedBy": "", "Tags": None,
                "Size": image.size, "Comment": ""}]
    out.reverse()
    out[0]["Id"], out[0]["Tags"] = str(image.id), repo_tags(image) or None
    return out
