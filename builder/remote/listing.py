"""`cairn ps` and `cairn images` on a remote daemon: GET /containers/json and /images/json,
shown with the local commands' columns, headers, --format templates and -q. The filters the
daemon serves are passed on; a filter the local command knows but the API here does not serve
is refused (exit 2)."""

from __future__ import annotations

import json
import time

from .conn import RemoteError

PS_SERVED = ("status", "name", "label", "ancestor", "id", "exited")
MAX_ROWS = 100_000  # containers or images in a reply at most (a row is ~1 KB once formatted)
IMAGES_SERVED = ("reference", "dangling", "label")


def _filters(values, known, served, command: str) -> dict[str, list[str]]:
    from ..commands.container_list import parse_filters

    wanted = parse_filters(values)
    for key in wanted:
        if key not in known:
            raise RemoteError(f"invalid filter '{key}'")
        if key not in served:
            raise RemoteError(f"cairn {command} --filter {key}=...: not served by a remote daemon (it serves "
                              f"{', '.join(served)}); run it without CAIRN_HOST", 2)
    return wanted


def _rows(docs, url: str, what: str) -> list:
    if not isinstance(docs, list):
        raise RemoteError(f"the cairn daemon at {url} sent {what} that are not a list")
    if len(docs) > MAX_ROWS:
        raise RemoteError(f"the cairn daemon at {url} sent more than {MAX_ROWS} {what}")
    return docs


def _ports(doc: dict) -> str:
    return ", ".join(f"{p.get('IP')}:{p.get('PublicPort')}->{p.get('PrivatePort')}/{p.get('Type')}"
                     for p in doc.get("Ports") or [] if p.get("PublicPort"))


def container_record(doc: dict, no_trunc: bool, now: float):
    from ..commands.common import go_time, human_duration
    from ..commands.container_list import _ellipsis, _go_quote
    from ..commands.gotemplate import Record

    labels = doc.get("Labels") or {}
    command = str(doc.get("Command") or "")
    cid = str(doc.get("Id") or "")
    created = doc.get("Created") or now
    fields = {
        "Command": _go_quote(command if no_trunc else _ellipsis(command, 20)),
        "CreatedAt": go_time(created),
        "HealthStatus": "",
        "ID": cid if no_trunc else cid[:12],
        "Image": doc.get("Image") or "<no image>",
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "LocalVolumes": "0",
        "Mounts": "",
        "Names": ",".join(n.lstrip("/") for n in doc.get("Names") or []),
        "Networks": ((doc.get("HostConfig") or {}).get("NetworkMode") or "").replace("default", "bridge"),
        "Ports": _ports(doc),
        "RunningFor": human_duration(now - created) + " ago",
        "Size": "0B",
        "State": str(doc.get("State") or ""),
        "Status": str(doc.get("Status") or ""),
    }
    return Record("*formatter.ContainerContext", fields, {"Label": lambda key: str(labels.get(key, ""))})


def ps(daemon, p: dict) -> int:
    from ..commands.container_list import DEFAULT_TABLE, FILTERS, HEADERS
    from ..commands.formatter import echo_rows, prepare

    fmt = p["fmt"]
    if fmt:
        prepare(fmt)
    wanted = _filters(p["filters"], FILTERS, PS_SERVED, "ps")
    last = 1 if p["latest"] else p["last"]
    query = {"all": 1 if (p["include_all"] or last > 0) else 0}
    if wanted:
        query["filters"] = json.dumps(wanted)
    if last > 0:
        query["limit"] = last
    docs = _rows(daemon.json("GET", "/containers/json", query) or [], daemon.url, "containers")
    now = time.time()
    items = [container_record(d, p["no_trunc"], now) for d in docs if isinstance(d, dict)]
    if p["quiet"]:
        fmt = "{{.ID}}"
    elif not fmt or fmt.strip() == "table":
        fmt = DEFAULT_TABLE
    echo_rows(fmt, items, HEADERS, DEFAULT_TABLE)
    return 0


def image_records(docs: list, no_trunc: bool) -> list:
    from ..commands.common import go_time, human_ago, human_size
    from ..commands.gotemplate import Record

    records = []
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        image_id = str(doc.get("Id") or "")
        size = human_size(int(doc.get("Size") or 0))
        created = doc.get("Created") or 0
        names = [n for n in doc.get("RepoTags") or [] if n != "<none>:<none>"] or [None]
        for name in names:
            repo, tag = (name.rsplit(":", 1) if name and ":" in name.rsplit("/", 1)[-1] else ("<none>", "<none>"))
            fields = {"Containers": "N/A", "CreatedAt": go_time(created), "CreatedSince": human_ago(created),
                      "Digest": "<none>", "ID": image_id if no_trunc else image_id.removeprefix("sha256:")[:12],
                      "Repository": repo, "SharedSize": "N/A", "Size": size, "Tag": tag, "UniqueSize": "N/A",
                      "VirtualSize": size}
            records.append(Record("*formatter.imageContext", fields))
    return records


def images(daemon, p: dict) -> int:
    from ..commands.formatter import echo_rows, prepare
    from ..commands.image_list import DEFAULT_TABLE, FILTERS, HEADERS

    fmt = p["fmt"]
    if fmt:
        prepare(fmt)
    if "{{.Digest}}" in (fmt or ""):
        raise RemoteError("cairn images: the Digest column is not served by a remote daemon; run it without "
                          "CAIRN_HOST", 2)
    wanted = _filters(p["filters"], FILTERS, IMAGES_SERVED, "images")
    if p["repository"]:
        wanted.setdefault("reference", []).append(p["repository"])
    query = {"filters": json.dumps(wanted)} if wanted else None
    docs = _rows(daemon.json("GET", "/images/json", query) or [], daemon.url, "images")
    records = image_records(docs, p["no_trunc"])
    if not fmt or fmt.strip() == "table":
        fmt = "{{.ID}}" if p["quiet"] else DEFAULT_TABLE
    echo_rows(fmt, records, HEADERS, DEFAULT_TABLE)
    return 0
