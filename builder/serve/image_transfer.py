"""POST /images/create (docker pull) and POST /images/{name}/push (docker push), with docker's
progress stream. A registry is reached with the credentials the client sends (X-Registry-Auth),
never with the ones saved on the server's host: an API client cannot borrow root's logins.
Pushed layers built here are gzip-compressed, as dockerd pushes them (any docker pulls them)."""

from __future__ import annotations

import base64
import binascii
import json

from ..image.reference import Reference, ReferenceError, parse_reference
from .errors import ApiError, bad_request, not_found
from .http import Response
from .jsonstream import Job, message

STREAM_TYPE = "application/json"


def client_credentials(request):
    """X-Registry-Auth: base64url JSON {username, password, identitytoken, ...}; absent or
    empty: anonymous. Returns registry.credentials.Credentials."""
    from ..registry.credentials import Credentials

    text = request.headers.get("x-registry-auth", "").strip()
    if not text:
        return Credentials()
    try:
        doc = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad_request("invalid X-Registry-Auth header: not base64 JSON") from None
    if not isinstance(doc, dict):
        raise bad_request("invalid X-Registry-Auth header: not a JSON object")
    fields = {k: doc.get(k) or "" for k in ("username", "password", "identitytoken")}
    if not all(isinstance(v, str) for v in fields.values()):
        raise bad_request("invalid X-Registry-Auth header: fields must be strings")
    return Credentials(fields["username"], fields["password"], fields["identitytoken"])


def _line_message(line: str) -> bytes:
    """`abc123def456: Pull complete` -> {"status": "Pull complete", "id": "abc123def456"}."""
    ident, sep, status = line.partition(": ")
    if sep and len(ident) == 12 and all(c in "0123456789abcdef" for c in ident):
        return message(status=status, progressDetail={}, id=ident)
    return message(status=line)


def _pull_ref(request) -> Reference:
    image = request.query.get("fromImage", "")
    tag = request.query.get("tag", "")
    if request.query.get("fromSrc"):
        raise ApiError(501, "cairn serve: importing a root filesystem (docker import) is not supported here: "
                            "use `cairn import ROOTFS.tar REF`")
    if not image:
        raise bad_request("fromImage or fromSrc is required")
    if tag:
        image = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"
    try:
        return parse_reference(image)
    except ReferenceError as err:
        raise bad_request(str(err)) from None


def create_image(ctx, request) -> Response:
    from ..registry.options import RegistryOptions
    from ..registry.pull import parse_platform, pull

    ref = _pull_ref(request)
    platform = request.query.get("platform") or None
    try:
        parse_platform(platform)
    except Exception as err:  # noqa: BLE001 - a UsageError's text: the client's mistake
        raise bad_request(str(err)) from None
    creds = client_credentials(request)

    def work(emit):
        emit(message(status=f"Pulling from {ref.path}", id=ref.tag or "latest") if ref.digest is None
             else message(status=f"Pulling {ref.familiar}"))
        with ctx.store() as store:
            result = pull(store, ref, RegistryOptions.from_env(), platform, log=lambda line: emit(_line_message(line)),
                          credentials=creds)
        emit(message(status=f"Digest: {result.digest}"))
        emit(message(status=f"Status: {'Image is up to date' if result.up_to_date else 'Downloaded newer image'} "
                            f"for {ref.familiar}"))

    return Response(200, Job(work).lines(getattr(request, "connection", None)), STREAM_TYPE)


def push_image(ctx, request, name: str) -> Response:
    from ..registry.options import RegistryOptions
    from ..registry.push import push
    from ..store import images

    tag = request.query.get("tag", "")
    try:
        repo = parse_reference(name)
        if "@" in name or (tag and ":" in name.rsplit("/", 1)[-1]):
            raise bad_request(f"invalid reference format: {name!r}")
        wanted = [parse_reference(f"{name}:{tag}")] if tag else []
    except ReferenceError as err:
        raise bad_request(str(err)) from None
    creds = client_credentials(request)
    with ctx.store() as store:
        if not wanted:  # no tag: every tag of the repository, as docker push -a
            wanted = sorted((r for r in (parse_reference(t) for image in images.list_images(store) for t in image.tags)
                             if r.repository == repo.repository), key=str)
            if not wanted:
                raise not_found(f"An image does not exist locally with the tag: {repo.familiar}")
        chosen = []
        for ref in wanted:
            try:
                chosen.append((ref, images.resolve(store, str(ref))))
            except images.ImageNotFound:
                raise not_found(f"An image does not exist locally with the tag: {ref.familiar}") from None

    def work(emit):
        emit(message(status=f"The push refers to repository [{repo.repository}]"))
        with ctx.store() as store:
            for ref, image in chosen:
                result = push(store, image, ref, RegistryOptions.from_env(), "gzip",
                              log=lambda line: emit(_line_message(line)), credentials=creds)
                emit(message(status=f"{ref.tag or 'latest'}: digest: {result.digest} size: {result.size}"))
                emit(message(progressDetail={}, aux={"Tag": ref.tag or "latest", "Digest": str(result.digest),
                                                     "Size": result.size}))

    return Response(200, Job(work).lines(getattr(request, "connection", None)), STREAM_TYPE)


def add_routes(router) -> None:
    router.add("POST", "/images/create", create_image)
    router.add("POST", "/images/{name*}/push", push_image)
