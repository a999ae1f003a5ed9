"""Answering a registry's `WWW-Authenticate` challenge: Basic, or Bearer tokens per scope.

A registry says which scheme it wants on its first 401. For Basic, every request carries
the user's credentials. For Bearer, we ask the challenge's `realm` for a token for the
`service` and the scopes the operation needs (`repository:NAME:pull,push`), with the
user's credentials if any (anonymous otherwise), and reuse it for those scopes until it
expires. Secrets never reach an error message.
"""

from __future__ import annotations

import base64
import re
import threading
import time

import httpx

from ..bounded import TOKEN_LIMIT, TooLargeError, loads_json
from .bodies import ACCEPT_ENCODING, read_body
from .credentials import Credentials
from .errors import AuthError, RegistryError

_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')
_DEFAULT_TOKEN_LIFETIME = 60.0


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="..."` -> ("bearer", {"realm": ..., "service": ...})."""
    header = header.strip()
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m or m.end() == pos:
            break
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
        pos = m.end()
    return scheme.lower(), params


def _basic(creds: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


class Authenticator:
    """The Authorization header for a registry, given the scopes a request needs."""

    def __init__(self, domain: str, credentials: Credentials, client_for):
        self.domain = domain
        self.credentials = credentials
        self._client_for = client_for  # url -> httpx.Client
        self._scheme: str | None = None
        self._params: dict[str, str] = {}
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._fetching: dict[tuple[str, ...], threading.Lock] = {}

    @property
    def scheme(self) -> str | None:
        """The scheme the registry's challenge asked for ("basic", "bearer"), None before one."""
        return self._scheme

    def header(self, scopes: tuple[str, ...]) -> str | None:
        if self._scheme == "basic":
            return _basic(self.credentials) if self.credentials.username else None
        if self._scheme == "bearer":
            return "Bearer " + self._token(scopes)
        return None

    def challenged(self, response: httpx.Response) -> None:
        """Learn the scheme from a 401; raises AuthError when no scheme we speak is offered."""
        offered = response.headers.get_list("www-authenticate")
        for text in offered:
            scheme, params = parse_challenge(text)
            if scheme in ("bearer", "basic"):
                with self._lock:
                    self._scheme, self._params = scheme, params
                return
        raise AuthError(f"{self.domain}: authentication required, but the registry offers no scheme cairn speaks "
                        f"({', '.join(offered) or 'no WWW-Authenticate header'})")

    def forget(self, scopes: tuple[str, ...]) -> None:
        with self._lock:
            self._tokens.pop(scopes, None)

    def _token(self, scopes: tuple[str, ...]) -> str:
        with self._lock:
            scope_lock = self._fetching.setdefault(scopes, threading.Lock())
        with scope_lock:  # threads needing the same scope wait for one token, not fetch their own
            with self._lock:
                cached = self._tokens.get(scopes)
                if cached and cached[1] > time.monotonic():
                    return cached[0]
            token, lifetime = self._fetch_token(scopes)
            with self._lock:
                self._tokens[scopes] = (token, time.monotonic() + max(lifetime - 10, lifetime / 2))
            return token

    def _fetch_token(self, scopes: tuple[str, ...]) -> tuple[str, float]:
        realm = self._params.get("realm")
        if not realm:
            raise AuthError(f"{self.domain}: the Bearer challenge has no realm")
        if not realm.startswith(("https://", "http://")):
            raise AuthError(f"{self.domain}: the Bearer challenge's realm {realm[:200]!r} is not an http(s) URL")
        service = self._params.get("service")
        creds = self.credentials
        response = None
        try:
            if creds.identity_token:
                form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                        "client_id": "cairn", "scope": " ".join(scopes)}
                if service:
                    form["service"] = service
                client = self._client_for(realm)
                response = client.send(client.build_request("POST", realm, data=form, headers=ACCEPT_ENCODING),
                                       stream=True)
            else:
                params = [("scope", s) for s in scopes]
                if service:
                    params.insert(0, ("service", service))
                if creds.username:
                    params.append(("account", creds.username))
                headers = {**ACCEPT_ENCODING, **({"Authorization": _basic(creds)} if creds.username else {})}
                client = self._client_for(realm)
                response = client.send(client.build_request("GET", realm, params=params, headers=headers),
                                       stream=True)
            body = read_body(response, TOKEN_LIMIT, f"the reply of the token server {realm}")
        except (httpx.HTTPError, httpx.InvalidURL) as err:
            raise RegistryError(f"{self.domain}: cannot get a token from {realm}: {err}") from None
        except TooLargeError as err:
            raise RegistryError(f"{self.domain}: {err}") from None
        finally:
            if response is not None:
                response.close()
        if response.status_code in (401, 403):
            who = f"as {creds.username!r}" if creds.username else "anonymously"
            raise AuthError(f"{self.domain}: the token server refused to log in {who}: "
                            f"{'wrong username or password' if creds else 'credentials needed'} "
                            f"(HTTP {response.status_code})")
        if response.status_code != 200:
            raise RegistryError(f"{self.domain}: the token server {realm} answered HTTP {response.status_code}")
        try:
            reply = loads_json(body, "the token reply", ValueError)
            token = reply.get("token") or reply.get("access_token")
        except (ValueError, AttributeError):
            token, reply = None, {}
        if not token or not isinstance(token, str):
            raise RegistryError(f"{self.domain}: the token server {realm} gave no token")
        lifetime = reply.get("expires_in")
        return token, float(lifetime) if isinstance(lifetime, (int, float)) and lifetime > 0 \
            else _DEFAULT_TOKEN_LIFETIME
