"""The image routes: list, inspect, history, tag and remove. Every name from a request goes
through the store's resolver and the reference parser; errors are docker's (404 no such
image, 400 invalid reference, 409 an ID that several names share)."""

from __future__ import annotations

import json

from ..errors import CairnError
from ..image.reference import ReferenceError, parse_reference
from . import shapes
from .errors import bad_request, conflict, not_found
from .http import Response, json_response


def _resolve(store, name: str):
    from ..store.images import ImageNotFound, resolve

    try:
        return resolve(store, name)
    except ImageNotFound:
        raise not_found(f"No such image: {name}") from None
    except ReferenceError as err:
        raise bad_request(str(err)) from None
    except CairnError as err:  # an ambiguous ID prefix
        raise bad_request(str(err)) from None


def _filters(request) -> dict[str, list[str]]:
    text = request.query.get("filters")
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        raise bad_request("invalid filter: the filters parameter is not JSON") from None
    if not isinstance(doc, dict):
        raise bad_request("invalid filter: not an object")
    out: dict[str, list[str]] = {}
    for key, value in doc.items():
        if isinstance(value, dict):  # docker's newer form: {"reference": {"busybox": true}}
            out[key] = [k for k, v in value.items() if v]
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            raise bad_request(f"invalid filter '{key}'")
    return out


def list_images(ctx, request) -> Response:
    from ..store import images

    filters = _filters(request)
    for key in filters:
        if key not in ("reference", "dangling", "label"):
            raise bad_request(f"invalid filter '{key}'")
    with ctx.store() as store:
        out = []
        for image in images.list_images(store):
            if not _accepts(image, filters, store):
                continue
            summary = shapes.image_summary(store, image)
            if filters.get("reference") and image.tags:  # only the names that matched, as dockerd lists them
                summary["RepoTags"] = [n for n in summary["RepoTags"] if _named(n, filters["reference"])]
                repos = {n.rsplit(":", 1)[0] for n in summary["RepoTags"]}
                summary["RepoDigests"] = [d for d in summary["RepoDigests"] if d.split("@", 1)[0] in repos]
            out.append(summary)
    out.sort(key=lambda doc: doc["Created"], reverse=True)
    return json_response(out)


def _named(name: str, patterns: list[str]) -> bool:
    """docker's reference filter: a pattern matches the name, or the name without its tag."""
    from fnmatch import fnmatchcase

    return any(fnmatchcase(n, p) for p in patterns for n in (name, name.rsplit(":", 1)[0]))


def _accepts(image, filters, store) -> bool:
    if "dangling" in filters:
        want = filters["dangling"][-1].lower() in ("true", "1")
        if want != (not image.tags):
            return False
    if filters.get("reference") and not any(_named(n, filters["reference"]) for n in shapes.repo_tags(image)):
        return False
    if filters.get("label"):
        labels = shapes.image_summary(store, image)["Labels"]
        for want in filters["label"]:
            key, eq, value = want.partition("=")
            if key not in labels or (eq and labels[key] != value):
                return False
    return True


def inspect_image(ctx, _request, name: str) -> Response:
    with ctx.store() as store:
        return json_response(shapes.image_inspect(store, _resolve(store, name)))


def image_history(ctx, _request, name: str) -> Response:
    with ctx.store() as store:
        return json_response(shapes.image_history(store, _resolve(store, name)))


def tag_image(ctx, request, name: str) -> Response:
    from ..store import images

    repo = request.query.get("repo", "")
    tag = request.query.get("tag", "") or "latest"
    if not repo:
        raise bad_request("repository name must have at least one component")
    target = f"{repo}:{tag}"
    try:
        ref = parse_reference(target)
    except ReferenceError as err:
        raise bad_request(str(err)) from None
    if ref.digest is not None or repo != repo.lower():
        raise bad_request(f"invalid reference format: {target!r}")
    with ctx.store() as store:
        _resolve(store, name)
        images.tag_image(store, name, str(ref))
    return Response(201, b"", "text/plain")


def remove_image(ctx, request, name: str) -> Response:
    from ..store import images

    force = request.flag("force")
    with ctx.store() as store:
        image = _resolve(store, name)
        by_id = images._by_id(store, name) is not None
        if by_id and len(image.tags) > 1 and not force:
            raise conflict(f"conflict: unable to delete {image.id.short} (must be forced) - image is "
                           f"referenced in multiple repositories")
        lines = images.remove_image(store, name, force)
    out = []
    for line in lines:
        what, _, value = line.partition(": ")
        out.append({what: value})
    return json_response(out)


def add_routes(router) -> None:
    router.add("GET", "/images/json", list_images)
    router.add("GET", "/images/{name*}/json", inspect_image)
    router.add("GET", "/images/{name*}/history", image_history)
    router.add("POST", "/images/{name*}/tag", tag_image)
    router.add("DELETE", "/images/{name*}", remove_image)
