"""POST /auth (docker login): the credentials in the body are checked with the registry as
docker's daemon checks them, `GET /v2/` answering its challenge (Basic, or a Bearer token from
the realm), and answered {"Status": "Login Succeeded"}, or 401 with docker's message. Nothing
is kept: the client saves its credentials and sends them with each pull or push
(X-Registry-Auth); the server's own saved logins are never used."""

from __future__ import annotations

from .errors import ApiError, bad_request
from .http import json_response

_FIELDS = ("username", "password", "serveraddress", "identitytoken", "email", "auth", "registrytoken")


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
    with RegistryClient(domain, RegistryOptions.from_env(), creds) as client:
        try:
            client.check_login()
        except AuthError as err:
            raise ApiError(401, _refusal(client, creds, err)) from None
        except RegistryError as err:
            raise ApiError(500, str(err)) from None
    return json_response({"IdentityToken": "", "Status": "Login Succeeded"})


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
