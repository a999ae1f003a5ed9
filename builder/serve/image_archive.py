"""docker save, load and image prune through the socket: GET /images/{name}/get and
/images/get?names= stream a docker-archive (builder/archive/save.py) as it is written;
POST /images/load takes a docker-archive or OCI layout tar, kept (at most LOAD_LIMIT bytes) in
a private file in the store's tmp/ and read by builder/archive/load.py, which verifies every
blob and unpacks layers through the safe extractor; POST /images/prune removes dangling (or,
with dangling=false, all unused) images, then the blobs and snapshots nothing uses."""

from __future__ import annotations

import os
import time

from ..errors import CairnError
from .errors import bad_request
from .http import Response, json_response
from .jsonstream import Job, message

LOAD_LIMIT = 64 << 30


def load_limit() -> int:
    text = os.environ.get("CAIRN_SERVE_LOAD_LIMIT", "")
    return int(text) if text.isdigit() and int(text) > 0 else LOAD_LIMIT


class _Sink:
    """A file whose writes go to the response, a MiB at a time."""

    def __init__(self, emit):
        self.emit, self.buf = emit, bytearray()

    def write(self, data) -> int:
        self.buf += data
        if len(self.buf) >= 1 << 20:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buf:
            self.emit(bytes(self.buf))
            self.buf = bytearray()


def _save(ctx, request, names: list[str]) -> Response:
    from ..archive.save import save
    from .images import _resolve

    if not names:
        raise bad_request("no image names given (names=IMAGE)")
    with ctx.store() as store:
        for name in names:
            _resolve(store, name)  # 404 before the stream starts

    def work(emit):
        sink = _Sink(emit)
        with ctx.store() as store:
            save(store, names, sink, "docker")
        sink.flush()

    job = Job(work, error=None)
    return Response(200, job.lines(getattr(request, "connection", None)), "application/x-tar")


def get_image(ctx, request, name: str) -> Response:
    return _save(ctx, request, [name])


def get_images(ctx, request) -> Response:
    return _save(ctx, request, [n for n in request.query_lists.get("names", []) if n])


def load_images(ctx, request) -> Response:
    from ..archive.load import load

    body = request.stream(load_limit())
    with ctx.store() as store:
        here = store.new_tmp_dir("load-")
        try:
            path = os.path.join(here, "archive.tar")
            with open(path, "wb") as f:
                while chunk := body.read(1 << 20):
                    f.write(chunk)
            loaded = load(store, path)
        except CairnError as err:  # (the server's own paths stay out of the message)
            raise bad_request(str(err).replace(path, "the archive")) from None
        finally:
            from ..store.store import remove_tree

            remove_tree(here)
    lines = []
    for item in loaded:
        texts = [f"Loaded image: {ref.familiar}" for ref in item.refs] or [f"Loaded image ID: {item.image.id}"]
        lines += [message(stream=text + "\n") for text in texts]
    return Response(200, b"".join(lines), "application/json")  # (quiet hides progress bars: none here)


def prune_images(ctx, request) -> Response:
    from ..containers.dirs import all_containers
    from ..store import images
    from ..store.maintenance import prune
    from .images import _filters
    from .shapes import image_summary

    filters = _filters(request)
    for key in filters:
        if key not in ("dangling", "until", "label", "label!"):
            raise bad_request(f"invalid filter '{key}'")
    dangling_only = (filters.get("dangling") or ["true"])[-1].lower() in ("true", "1")
    until = _until(filters.get("until"))
    deleted = []
    with ctx.store() as store:
        used = {c.state().get("image_id") for c in all_containers(store)}
        for image in images.list_images(store):
            if str(image.id) in used or (dangling_only and image.tags) or (until is not None and image.added > until):
                continue
            labels = image_summary(store, image)["Labels"]
            if not all(_label(labels, want) for want in filters.get("label", [])):
                continue
            if any(_label(labels, want) for want in filters.get("label!", [])):
                continue
            for tag in image.tags:
                deleted += images.remove_image(store, tag, force=True)
            if not image.tags:
                deleted += images.remove_image(store, str(image.id), force=True)
        freed = prune(store).bytes
    out = []
    for line in deleted:
        what, _, value = line.partition(": ")
        out.append({what: value})
    return json_response({"ImagesDeleted": out or None, "SpaceReclaimed": freed})


def _label(labels: dict, want: str) -> bool:
    key, eq, value = want.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _until(values) -> float | None:
    if not values:
        return None
    text = values[-1]
    try:
        return float(text)
    except ValueError:
        pass
    units = {"s": 1, "m": 60, "h": 3600}
    if text[-1:] in units and text[:-1].isdigit():
        return time.time() - int(text[:-1]) * units[text[-1]]
    raise bad_request(f"invalid filter 'until={text}': a unix time or a duration such as 24h")


def add_routes(router) -> None:
    router.add("GET", "/images/get", get_images)
    router.add("GET", "/images/{name*}/get", get_image)
    router.add("POST", "/images/load", load_images)
    router.add("POST", "/images/prune", prune_images)
