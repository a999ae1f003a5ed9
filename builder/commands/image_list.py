"""What `cairn images` shows of each image name, as docker shows it: the fields a `--format`
template sees (ID, Repository, Tag, Digest, CreatedSince, CreatedAt, Size, ...), and docker's
`--filter`s (dangling=, reference=, label=, before=, since=) and `images REPO[:TAG]`."""

from __future__ import annotations

import json
import re

from ..errors import CairnError
from .common import go_time, human_ago, human_size, parse_time
from .gotemplate import Record

HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
           "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
           "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}
DEFAULT_TABLE = "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}"
DIGEST_TABLE = "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}"
FILTERS = ("dangling", "reference", "label", "before", "since")


def _glob_regex(pattern: str) -> re.Pattern:
    """Go's path.Match: `*` and `?` stop at `/`; `[...]` is a class."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body).replace("\\", "\\\\") + "]")
            i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z")


def reference_matches(pattern: str, ref) -> bool:
    """docker's reference.FamiliarMatch: the pattern against `name:tag`, and against the
    name alone when the pattern names no tag."""
    rx = _glob_regex(pattern)
    familiar = ref.familiar
    name = familiar.rsplit(":", 1)[0] if ref.tag else familiar
    if rx.match(familiar):
        return True
    return ":" not in pattern.rsplit("/", 1)[-1] and bool(rx.match(name))


class ImageFilter:
    def __init__(self, filters: dict[str, list[str]], store):
        for key in filters:
            if key not in FILTERS:
                raise CairnError(f"invalid filter '{key}'")
        for value in filters.get("dangling", []):
            if value.lower() not in ("true", "false", "1", "0"):
                raise CairnError(f"invalid filter 'dangling={value}'")
        self.filters = filters
        self.bounds = {}
        for key in ("before", "since"):
            for text in filters.get(key, []):
                from ..store import images

                image = images.resolve(store, text)
                self.bounds[key] = _created(json.loads(store.blobs.read(image.config, verify=False)))

    def image_ok(self, image, config: dict) -> bool:
        f = self.filters
        if "dangling" in f:
            want = f["dangling"][-1].lower() in ("true", "1")
            if want != (not image.tags):
                return False
        labels = (config.get("config") or {}).get("Labels") or {}
        for want in f.get("label", []):
            key, eq, value = want.partition("=")
            if key not in labels or (eq and labels[key] != value):
                return False
        created = _created(config)
        if "before" in self.bounds and not created < self.bounds["before"]:
            return False
        return not ("since" in self.bounds and not created > self.bounds["since"])

    def name_ok(self, ref) -> bool:
        patterns = self.filters.get("reference")
        return not patterns or (ref is not None and any(reference_matches(p, ref) for p in patterns))


def _created(config: dict) -> float:
    return parse_time(config.get("created")) or 0.0


def image_records(store, accept: ImageFilter, no_trunc: bool, digests: bool) -> list[Record]:
    """One record per name of each image (an image without a name: one `<none>` record),
    newest image first, as docker lists them; the Digest column only when asked for."""
    from ..image.reference import parse_reference
    from ..store import images

    found = []
    for image in images.list_images(store):
        config = json.loads(store.blobs.read(image.config, verify=False))
        if accept.image_ok(image, config):
            found.append((image, config))
    found.sort(key=lambda pair: _created(pair[1]), reverse=True)
    records = []
    for image, config in found:
        refs = [parse_reference(t) for t in image.tags] or [None]
        for ref in refs:
            if not accept.name_ok(ref):
                continue
            records.append(_record(image, config, ref, no_trunc, digests))
    return records


def _record(image, config: dict, ref, no_trunc: bool, digests: bool) -> Record:
    repo = ref.familiar.rsplit(":", 1)[0] if ref is not None and ref.tag else "<none>"
    image_id = str(image.id) if no_trunc else image.id.short
    size = human_size(image.size)
    fields = {
        "Containers": "N/A",
        "CreatedAt": go_time(config.get("created")),
        "CreatedSince": human_ago(config.get("created")),
        "Digest": str(image.manifest) if digests else "<none>",
        "ID": image_id,
        "Repository": repo,
        "SharedSize": "N/A",
        "Size": size,
        "Tag": ref.tag if ref is not None and ref.tag else "<none>",
        "UniqueSize": "N/A",
        "VirtualSize": size,
    }
    return Record("*formatter.imageContext", fields)
