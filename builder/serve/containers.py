"""The container routes, mapped onto builder/containers/: list (with filters), inspect, logs
(followed too; docker's multiplexed frames), stop, remove and prune; create, start, wait,
kill, restart and top are in ctr_run.py, attach in attach.py, exec in execs.py."""

from __future__ import annotations

import json
import time

from ..errors import CairnError
from .errors import bad_request, conflict, not_found
from .http import Response, json_response
from .shapes import unix_time


def find(store, key: str):
    from ..containers.dirs import ContainerNotFound, find_container

    try:
        return find_container(store, key)
    except ContainerNotFound:
        raise not_found(f"No such container: {key}") from None
    except CairnError as err:  # an ambiguous prefix
        raise bad_request(str(err)) from None


def logs(ctx, request, key: str) -> Response:
    """The log (docker's frames of the streams asked for, as log_streams.py tells them; raw with a TTY),
    its last `tail` lines, lines written `since` a time, with `timestamps`, `follow`ed
    until the container exits."""
    from ..containers.lifecycle import log_file
    from .attach import frame, serve_info
    from .log_stream import log_chunks

    tail = request.query.get("tail", "all") or "all"
    if tail != "all" and not tail.isdigit():
        raise bad_request(f"invalid tail {tail!r}")
    since = request.query.get("since", "0") or "0"
    try:
        since_ts = float(since)
    except ValueError:
        raise bad_request(f"invalid since {since!r}: unix seconds") from None
    with ctx.store() as store:
        c, f = log_file(store, find(store, key).id)
    tty = bool(serve_info(c.state()).get("tty"))
    wanted = {n for flag, n in (("stdout", 1), ("stderr", 2)) if request.flag(flag)}
    pieces = log_chunks(c, f, -1 if tail == "all" else int(tail), since_ts or None, request.flag("timestamps"),
                        request.flag("follow"), getattr(request, "connection", None))
    media = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    return Response(200, ((data if tty else frame(data, stream)) for stream, data in pieces
                          if data and stream in wanted), media)


def inspect(ctx, _request, key: str) -> Response:
    from ..containers.inspect import container_doc

    with ctx.store() as store:
        return json_response(container_doc(store, find(store, key)))


LIST_FILTERS = ("status", "label", "label!", "name", "id", "ancestor", "exited")


def container_filters(request, allowed=LIST_FILTERS) -> dict[str, list[str]]:
    """docker's `filters` query: {"key": {"value": true}} (or the older {"key": ["value"]})."""
    text = request.query.get("filters", "")
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        raise bad_request(f"invalid filters {text[:100]!r}") from None
    if not isinstance(doc, dict):
        raise bad_request("invalid filters: not an object")
    out = {}
    for key, values in doc.items():
        if key not in allowed:
            raise bad_request(f"invalid filter '{key}'")
        values = list(values) if isinstance(values, (dict, list)) else []
        if not all(isinstance(v, str) for v in values):
            raise bad_request(f"invalid filter '{key}'")
        out[key] = values
    return out


def _label_matches(labels: dict, want: str) -> bool:
    key, eq, value = want.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _image_ids(store, names: list[str]) -> set[str]:
    from ..store import images

    ids = set()
    for name in names:
        try:
            ids.add(str(images.resolve(store, name).id))
        except CairnError:
            continue
    return ids


def _matches(doc: dict, filters: dict, store) -> bool:
    state, labels = doc["State"], (doc.get("Config") or {}).get("Labels") or {}
    checks = {
        "status": lambda v: state["Status"] == v,
        "label": lambda v: _label_matches(labels, v),
        "label!": lambda v: not _label_matches(labels, v),
        "name": lambda v: v.lstrip("/") in doc["Name"].lstrip("/"),
        "id": lambda v: doc["Id"].startswith(v),
        "exited": lambda v: state["Status"] == "exited" and str(state["ExitCode"]) == v,
    }
    for key, values in filters.items():
        if key == "ancestor":
            ids = _image_ids(store, values)
            if doc.get("Image") not in ids and (doc.get("Config") or {}).get("Image") not in values:
                return False
        elif key in ("label", "label!"):
            if not all(checks[key](v) for v in values):
                return False
        elif values and not any(checks[key](v) for v in values):
            return False
    return True


def list_containers(ctx, request) -> Response:
    from ..containers.dirs import all_containers
    from ..containers.inspect import container_doc

    filters = container_filters(request)
    show_all = request.flag("all") or "status" in filters
    with ctx.store() as store:
        docs = [container_doc(store, c) for c in all_containers(store)]
        docs = [d for d in docs if (show_all or d["State"]["Running"]) and _matches(d, filters, store)]
    limit = request.query.get("limit", "")
    if limit.lstrip("-").isdigit() and int(limit) > 0:
        docs = docs[:int(limit)]
    return json_response([_summary(d) for d in docs])


def stop_timeout(request) -> float | None:
    t = request.query.get("t", "")
    if t and not t.lstrip("-").isdigit():
        raise bad_request(f"invalid t {t!r}")
    return float(t) if t and int(t) >= 0 else None


def stop(ctx, request, key: str) -> Response:
    from ..containers import lifecycle

    timeout = stop_timeout(request)
    with ctx.store() as store:
        c = find(store, key)
        if not c.running():
            return Response(304, b"")
        lifecycle.stop(store, c.id, timeout=timeout)
    return Response(204, b"")


def remove(ctx, request, key: str) -> Response:

    with ctx.store() as store:
        c = find(store, key)
        if c.running() and not request.flag("force"):
            raise conflict(f"You cannot remove a running container {c.id}. Stop the container before "
                           f"attempting removal or force remove")
        _remove(store, c, request.flag("v"))
    return Response(204, b"")


def _remove(store, c, volumes: bool) -> None:
    from ..containers import lifecycle
    from .ctr_run import send

    if not c.running():
        send(c, b"q")  # an API container's monitor waits for a start: it ends
    anonymous = c.state().get("anonymous_volumes") or ()
    lifecycle.remove(store, c.id, force=True)
    if volumes and anonymous:
        from ..containers.volumes import remove_anonymous

        remove_anonymous(store, anonymous)


def prune(ctx, request) -> Response:
    """Every container that is not running (created or exited), as docker prunes them;
    filters: label=KEY[=VALUE] and label!=..."""
    from ..containers.dirs import all_containers
    from ..containers.inspect import container_doc

    filters = container_filters(request, ("label", "label!"))
    gone = []
    with ctx.store() as store:
        for c in all_containers(store):
            if c.running():
                continue
            doc = container_doc(store, c)
            if _matches(doc, {k: v for k, v in filters.items()}, store):
                _remove(store, c, False)
                gone.append(c.id)
    return json_response({"ContainersDeleted": gone or None, "SpaceReclaimed": 0})


def _ports(doc: dict) -> list[dict]:
    out = []
    for key, hosts in ((doc.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        for host in hosts or [None]:
            entry = {"PrivatePort": int(port), "Type": proto or "tcp"}
            if host:
                entry.update(IP=host.get("HostIp") or "0.0.0.0", PublicPort=int(host.get("HostPort") or 0))
            out.append(entry)
    return out


def human_duration(seconds: float) -> str:
    """A duration as docker's ps says it ("Up 5 seconds", "Exited (0) About a minute ago")."""
    s = int(seconds)
    minutes, hours = s // 60, int(seconds / 3600 + 0.5)
    if s < 1:
        return "Less than a second"
    if s < 60:
        return "1 second" if s == 1 else f"{s} seconds"
    if minutes < 60:
        return "About a minute" if minutes == 1 else f"{minutes} minutes"
    if hours < 48:
        return "About an hour" if hours == 1 else f"{hours} hours"
    for limit, days, unit in ((14, 1, "days"), (60, 7, "weeks"), (730, 30, "months")):
        if hours < 24 * limit:
            return f"{hours // 24 // days} {unit}"
    return f"{s // 3600 // 24 // 365} years"


def _summary(doc: dict) -> dict:
    """GET /containers/json's entry from an inspect document."""
    state = doc["State"]
    config = doc.get("Config") or {}
    command = [doc.get("Path") or "", *(doc.get("Args") or [])]
    if state["Running"]:
        status = f"Up {human_duration(time.time() - unix_time(state.get('StartedAt')))}"
    elif state["Status"] == "created":
        status = "Created"
    else:
        ago = human_duration(time.time() - unix_time(state.get("FinishedAt")))
        status = f"Exited ({state['ExitCode']}) {ago} ago"
    return {"Id": doc["Id"], "Names": [doc["Name"]], "Image": config.get("Image") or doc.get("Image", ""),
            "ImageID": doc.get("Image", ""), "Command": " ".join(w for w in command if w),
            "Created": unix_time(doc.get("Created")), "Ports": _ports(doc), "Labels": config.get("Labels") or {}, "State": state["Status"],
            "Status": status, "HostConfig": {"NetworkMode": doc["HostConfig"]["NetworkMode"]},
            "NetworkSettings": {"Networks": (doc.get("NetworkSettings") or {}).get("Networks") or {}}, "Mounts": []}


def resize(ctx, _request, key: str) -> Response:
    """Accepted: the TTY of an API container is its monitor's, sized at start."""
    with ctx.store() as store:
        find(store, key)
    return Response(200, b"")


def add_routes(router) -> None:
    from . import attach, ctr_run, execs

    router.add("POST", "/containers/create", ctr_run.create)
    router.add("GET", "/containers/json", list_containers)
    router.add("POST", "/containers/prune", prune)
    router.add("GET", "/containers/{key}/json", inspect)
    router.add("GET", "/containers/{key}/logs", logs)
    router.add("GET", "/containers/{key}/top", ctr_run.top)
    router.add("POST", "/containers/{key}/start", ctr_run.start)
    router.add("POST", "/containers/{key}/stop", stop)
    router.add("POST", "/containers/{key}/restart", ctr_run.restart)
    router.add("POST", "/containers/{key}/kill", ctr_run.kill)
    router.add("POST", "/containers/{key}/wait", ctr_run.wait)
    router.add("POST", "/containers/{key}/attach", attach.attach)
    router.add("POST", "/containers/{key}/resize", resize)
    router.add("POST", "/containers/{key}/exec", execs.create)
    router.add("POST", "/exec/{exec_id}/start", execs.start)
    router.add("POST", "/exec/{exec_id}/resize", execs.resize)
    router.add("GET", "/exec/{exec_id}/json", execs.inspect)
    router.add("DELETE", "/containers/{key}", remove)
