"""POST /auth (docker login): the credentials in the body are checked with the registry as
docker's daemon checks them, `GET /v2/` answering its challenge (Basic, or a Bearer token from
the realm), and answered {"Status": "Login Succeeded"}, or 401 with docker's message. Nothing
is kept: the client saves its credentials and sends them with each pull or push
(X-Registry-Auth); the server's own saved logins are never used.

The whole check is bounded (DEADLINE seconds, CAIRN_LOGIN_DEADLINE overrides it: the tests
set a short one), as docker's login is: a registry that accepts and never answers is a 500
"did not answer" when it passes, never a connection slot held for the registry client's
timeout times its retries (review: ~20 minutes). The check runs in a thread of its own, each
of its reads bounded by the deadline too and not retried, so that one left behind ends soon."""

from __future__ import annotations

import os
import sys
import threading
import traceback

from .errors import ApiError, bad_request
from .http import json_response

_FIELDS = ("username", "password", "serveraddress", "identitytoken", "email", "auth", "registrytoken")
DEADLINE = 30.0  # seconds for the whole login check


def registry_domain(address: str) -> str:
    """docker's serveraddress (`127.0.0.1:5000`, `https://index.docker.io/v1/`, empty for
    Docker Hub) -> the registry's domain, as an image name spells it."""
    from ..image.reference import ReferenceError, parse_reference

    host = address.strip().removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    if host in ("", "index.docker.io", "registry-1.docker.io"):
        return "docker.io"
    try:
        domain = parse_reference(f"{host}/x").domain
    except ReferenceError:
        domain = None
    if domain != host:
        raise bad_request(f"unable to parse server address: {address[:200]!r} is not a registry's address")
    return host


def login(_ctx, request):
    from ..registry.client import RegistryClient
    from ..registry.credentials import Credentials
    from ..registry.errors import AuthError, RegistryError
    from ..registry.options import RegistryOptions

    doc = request.json()
    fields = {k: doc.get(k) or "" for k in _FIELDS}
    if not all(isinstance(v, str) for v in fields.values()):
        raise bad_request("invalid auth configuration: fields must be strings")
    domain = registry_domain(fields["serveraddress"])
    creds = Credentials(fields["username"], fields["password"], fields["identitytoken"])
    deadline = _deadline()
    env = RegistryOptions.from_env()
    options = RegistryOptions(insecure=env.insecure, timeout=min(env.timeout, deadline), retries=0)
    outcome: list = []  # [(status, message)] (status 200: logged in), once the check ended

    def check() -> None:
        try:
            with RegistryClient(domain, options, creds) as client:
                try:
                    client.check_login()
                    outcome.append((200, ""))
                except AuthError as err:
                    outcome.append((401, _refusal(client, creds, err)))
                except RegistryError as err:
                    outcome.append((500, str(err)))
        except Exception as err:  # noqa: BLE001 - answered as the server answers a handler's fault
            traceback.print_exc(file=sys.stderr)
            outcome.append((500, f"internal error: {type(err).__name__}"))

    # (the outcome is data, never the thread's exception raised here: its traceback would hold
    # this frame, and the request's connection with it, in a cycle until a garbage collection,
    # and the client would wait for the connection's end as long)
    worker = threading.Thread(target=check, name="cairn-serve-login", daemon=True)
    worker.start()
    worker.join(deadline)
    if not outcome:
        raise ApiError(500, f"{domain}: the registry did not answer the login check within {deadline:g}s")
    status, message = outcome[0]
    if status != 200:
        raise ApiError(status, message)
    return json_response({"IdentityToken": "", "Status": "Login Succeeded"})


def _deadline() -> float:
    try:
        value = float(os.environ.get("CAIRN_LOGIN_DEADLINE") or DEADLINE)
    except ValueError:
        return DEADLINE
    return value if 0 < value <= DEADLINE * 10 else DEADLINE


def _refusal(client, creds, err) -> str:
    """docker's words for a refused login where they are known (Basic), else cairn's."""
    from ..registry.errors import RegistryError

    try:
        base = f"{client.session.base()}/v2/"
    except RegistryError:  # (refused while choosing https or http: no challenge cairn speaks)
        return str(err)
    if not creds:
        return f'Get "{base}": no basic auth credentials'
    if client.session.auth.scheme == "basic":
        return f"login attempt to {base} failed with status: 401 Unauthorized"
    return f'Get "{base}": unauthorized: {err}'


def add_routes(router) -> None:
    router.add("POST", "/auth", login)
