"""The container routes: list, inspect, logs (not followed; docker's multiplexed frames),
stop and remove, mapped onto builder/containers/; create is refused (501) until starting a
container from the server's threads is in place (containers come from `cairn run -d`)."""

from __future__ import annotations

from ..errors import CairnError
from .errors import ApiError, bad_request, conflict, not_found
from .http import Response, json_response
from .shapes import unix_time


def _find(store, key: str):
    from ..containers.dirs import ContainerNotFound, find_container

    try:
        return find_container(store, key)
    except ContainerNotFound:
        raise not_found(f"No such container: {key}") from None
    except CairnError as err:  # an ambiguous prefix
        raise bad_request(str(err)) from None


def create(_ctx, _request) -> Response:
    raise ApiError(501, "cairn serve: creating and starting containers is not supported yet: start them "
                        "with `cairn run -d` (docker ps, logs, inspect, stop and rm work on them here)")


def _frames(data: bytes, stream: int = 1):
    """docker's multiplexed stream: [stream, 0, 0, 0, size (big-endian 32 bits)] then the bytes
    (the log holds stdout and stderr together: both go out as stdout)."""
    for at in range(0, len(data), 32768):
        chunk = data[at:at + 32768]
        yield bytes([stream, 0, 0, 0]) + len(chunk).to_bytes(4, "big") + chunk


def logs(ctx, request, key: str) -> Response:
    from ..containers.lifecycle import log_file

    if request.flag("follow"):
        raise bad_request("cairn serve: logs --follow is not supported yet (use cairn logs -f)")
    with ctx.store() as store:
        _c, f = log_file(store, _find(store, key).id)
    with f:
        data = f.read(64 << 20)
    tail = request.query.get("tail", "all")
    if tail not in ("all", ""):
        if not tail.isdigit():
            raise bad_request(f"invalid tail {tail!r}")
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[-int(tail):]) if int(tail) else b""
    return Response(200, b"".join(_frames(data)), "application/vnd.docker.raw-stream")


def inspect(ctx, _request, key: str) -> Response:
    from ..containers.inspect import container_doc

    with ctx.store() as store:
        return json_response(container_doc(store, _find(store, key)))


def list_containers(ctx, request) -> Response:
    from ..containers.dirs import all_containers
    from ..containers.inspect import container_doc

    show_all = request.flag("all")
    with ctx.store() as store:
        docs = [container_doc(store, c) for c in all_containers(store)]
    return json_response([_summary(d) for d in docs if show_all or d["State"]["Running"]])


def stop(ctx, request, key: str) -> Response:
    from ..containers import lifecycle

    t = request.query.get("t", "")
    if t and not t.lstrip("-").isdigit():
        raise bad_request(f"invalid t {t!r}")
    with ctx.store() as store:
        c = _find(store, key)
        if not c.running():
            return Response(304, b"")
        lifecycle.stop(store, c.id, timeout=float(t) if t and int(t) >= 0 else None)
    return Response(204, b"")


def remove(ctx, request, key: str) -> Response:
    from ..containers import lifecycle

    with ctx.store() as store:
        c = _find(store, key)
        if c.running() and not request.flag("force"):
            raise conflict(f"You cannot remove a running container {c.id}. Stop the container before "
                           f"attempting removal or force remove")
        lifecycle.remove(store, c.id, force=True)
    return Response(204, b"")


def _summary(doc: dict) -> dict:
    """GET /containers/json's entry from an inspect document."""
    state = doc["State"]
    config = doc.get("Config") or {}
    command = [doc.get("Path") or "", *(doc.get("Args") or [])]
    if state["Running"]:
        status = "Up"
    elif state["Status"] == "created":
        status = "Created"
    else:
        status = f"Exited ({state['ExitCode']})"
    return {"Id": doc["Id"], "Names": [doc["Name"]], "Image": config.get("Image") or doc.get("Image", ""),
            "ImageID": doc.get("Image", ""), "Command": " ".join(w for w in command if w),
            "Created": unix_time(doc.get("Created")), "Ports": [], "Labels": config.get("Labels") or {}, "State": state["Status"],
            "Status": status, "HostConfig": {"NetworkMode": doc["HostConfig"]["NetworkMode"]},
            "NetworkSettings": {"Networks": {}}, "Mounts": []}


def add_routes(router) -> None:
    router.add("POST", "/containers/create", create)
    router.add("GET", "/containers/json", list_containers)
    router.add("GET", "/containers/{key}/json", inspect)
    router.add("GET", "/containers/{key}/logs", logs)
    router.add("POST", "/containers/{key}/stop", stop)
    router.add("DELETE", "/containers/{key}", remove)
