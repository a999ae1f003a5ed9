"""POST /build, docker's classic builder: the body is the context tar (at most the tar context
limit, unpacked into a private directory in the store's tmp/ by the extractor `cairn build -`
uses), the query says t (several), dockerfile, buildargs and labels (JSON), target, nocache,
pull, networkmode, q; rm and forcerm are accepted (cairn keeps no intermediate containers).
The build is `cairn build` itself (build_run.py), its progress streamed as docker's classic
JSON. A query parameter whose meaning cannot hold here is refused (400), never ignored."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import CairnError
from ..image.reference import ReferenceError, parse_reference
from .errors import ApiError, bad_request
from .http import Response

# docker CLI sends these with their empty or default values on every build
_DEFAULTS = {"memory": "0", "memswap": "0", "cpushares": "0", "cpusetcpus": "", "cpusetmems": "", "cpuperiod": "0",
             "cpuquota": "0", "shmsize": "0", "cgroupparent": "", "isolation": "", "squash": "0", "cachefrom": "[]",
             "ulimits": "null", "extrahosts": "", "platform": "", "remote": "", "outputs": "", "session": "",
             "buildid": "", "secrets": "", "sessionid": ""}
_KNOWN = {"t", "dockerfile", "buildargs", "labels", "target", "nocache", "pull", "rm", "forcerm", "networkmode", "q",
          "version", "buildid", "session", "sessionid"}


def _json_map(request, name: str) -> dict[str, str]:
    text = request.query.get(name, "")
    if not text or text == "null":
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        raise bad_request(f"invalid {name}: not JSON") from None
    if not isinstance(doc, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                            for k, v in doc.items()):
        raise bad_request(f"invalid {name}: expected an object of strings")
    # a build arg given without a value (null) is one the client's environment lacked: unset
    return {k: v for k, v in doc.items() if v is not None}


def build_args(request) -> list[str]:
    """`cairn build`'s arguments for the request's query (after `build`)."""
    for key, value in request.query.items():
        if key not in _KNOWN and key not in _DEFAULTS:
            continue  # (docker's options that do nothing without their own flag here: none worth a refusal)
        if key in _DEFAULTS and value not in (_DEFAULTS[key], "", "0", "[]", "null", "{}", "false"):
            raise bad_request(f"cairn serve: the build option {key}={value[:80]!r} is not supported by cairn's "
                              f"classic builder endpoint")
    if request.query.get("version", "1") not in ("", "1"):
        raise bad_request("cairn serve: only the classic builder (version=1) is served: set DOCKER_BUILDKIT=0")
    args: list[str] = []
    for tag in request.query_lists.get("t", []):
        try:
            ref = parse_reference(tag)
        except ReferenceError as err:
            raise bad_request(str(err)) from None
        if ref.digest is not None:
            raise bad_request(f"invalid tag {tag!r}: a tag cannot be a digest")
        args.append(f"--tag={tag}")
    for key, value in _json_map(request, "buildargs").items():
        if not key or "=" in key:
            raise bad_request(f"invalid build arg name {key!r}")
        args.append(f"--build-arg={key}={value}")
    for key, value in _json_map(request, "labels").items():
        if not key or "=" in key:
            raise bad_request(f"invalid label name {key!r}")
        args.append(f"--label={key}={value}")
    target = request.query.get("target", "")
    if target:
        args.append(f"--target={target}")
    if request.flag("nocache"):
        args.append("--no-cache")
    if request.flag("pull"):
        args.append("--pull")
    network = request.query.get("networkmode", "") or "default"
    if network in ("default", "bridge"):
        pass
    elif network == "none":
        args.append("--network=none")
    else:
        raise bad_request(f"cairn serve: networkmode {network[:80]!r} is not served (default, bridge or none): "
                          f"host networking needs `cairn build --allow network.host` on the host")
    return args


def dockerfile_name(request) -> str | None:
    name = request.query.get("dockerfile", "")
    if not name:
        return None
    if "\0" in name or len(name) > 4096:
        raise bad_request("invalid dockerfile name")
    return name


def build(ctx, request) -> Response:
    from ..context.stdin_tar import from_request, limit
    from ..store.store import remove_tree
    from .build_run import BuildRun

    if request.query.get("remote"):
        raise ApiError(501, "cairn serve: a remote build context (remote=URL) is not supported: send the context "
                            "as the request body")
    args = build_args(request)
    named = dockerfile_name(request)
    body = request.stream(limit())
    store = ctx.store()  # (open while the build runs: its lease keeps the context from a prune)
    here = str(store.new_tmp_dir("serve-build-"))
    try:
        context, dockerfile = from_request(body, here, named)
    except BaseException as err:
        remove_tree(Path(here))
        store.close()
        if isinstance(err, CairnError):
            raise bad_request(str(err).replace(here, "")) from None
        raise
    kind = BuildRun
    if request.flag("cairnprogress"):  # (the cairn CLI's remote build: cairn's own events)
        from .build_raw import RawBuildRun as kind
    run = kind(store, here, context, dockerfile, args, request.flag("q"), request.query.get("target") or None)
    run.zygote = getattr(ctx, "zygote", None)  # (forked warm, with the stat cache the daemon keeps)
    return Response(200, run.job().lines(getattr(request, "connection", None)), "application/json")


def add_routes(router) -> None:
    router.add("POST", "/build", build)
