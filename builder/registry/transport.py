"""HTTP to one registry: which scheme, which CAs, retries, redirects, auth and error documents.

- HTTPS with the system's CAs, plus a registry's own CA from
  `~/.config/cairn/certs.d/HOST/*.crt` or docker's `/etc/docker/certs.d/HOST/*.crt`
  (and `client.cert`/`client.key` for mutual TLS, as docker does).
- Plain HTTP only for registries named insecure, and for localhost/127.0.0.0/8/::1 as
  docker allows: HTTPS is tried first, HTTP when the TLS handshake fails.
- Redirects are followed by hand; the Authorization header never goes to another origin.
- 5xx, 429 and broken or timed-out connections are retried with exponential backoff
  (bounded in count); 401 is answered once through the Authenticator.
"""

from __future__ import annotations

import ipaddress
import random
import ssl
import threading
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from ..bounded import ERROR_BODY_LIMIT, MANIFEST_LIMIT, TooLargeError, loads_json
from .auth import Authenticator
from .bodies import ACCEPT_ENCODING, read_body
from .credentials import Credentials
from .errors import AuthError, NotFoundError, RegistryError, TransientError
from .options import RegistryOptions

DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
_RETRY_STATUSES = (408, 429, 500, 502, 503, 504)
_NOT_FOUND_CODES = ("MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "NAME_UNKNOWN", "BLOB_UPLOAD_UNKNOWN")


def endpoint(domain: str) -> str:
    return DOCKER_HUB_ENDPOINT if domain == "docker.io" else domain


def _host(domain: str) -> str:
    host = domain.rsplit(":", 1)[0] if not domain.endswith("]") else domain
    return host.strip("[]")


def is_loopback(domain: str) -> bool:
    host = _host(domain)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allows_http(domain: str, insecure: tuple[str, ...]) -> bool:
    return domain in insecure or _host(domain) in insecure or is_loopback(domain)


def cert_dirs(domain: str) -> list[Path]:
    return [Path.home() / ".config" / "cairn" / "certs.d" / domain, Path("/etc/docker/certs.d") / domain]


def ssl_context(domain: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    for d in cert_dirs(domain):
        if not d.is_dir():
            continue
        for crt in sorted(d.glob("*.crt")):
            try:
                ctx.load_verify_locations(cafile=str(crt))
            except (ssl.SSLError, OSError) as err:
                raise RegistryError(f"cannot load the CA certificate {crt}: {err}") from None
        for cert in sorted(d.glob("*.cert")):
            key = cert.with_suffix(".key")
            if key.exists():
                ctx.load_cert_chain(str(cert), str(key))
    return ctx


def error_message(response: httpx.Response) -> str:
    """The registry's error document, as one line: `MANIFEST_UNKNOWN: manifest unknown`."""
    try:
        doc = loads_json(response.content, "error document", ValueError)
        errors = doc.get("errors") if isinstance(doc, dict) else None
    except ValueError:
        errors = None
    if isinstance(errors, list) and errors:
        parts = []
        for e in errors[:3]:
            if isinstance(e, dict):
                parts.append(f"{e.get('code', 'ERROR')}: {e.get('message', '')}".rstrip(": ")[:300])
        if parts:
            return "; ".join(parts)
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


def _error_codes(response: httpx.Response) -> set[str]:
    try:
        errors = loads_json(response.content, "error document", ValueError).get("errors", [])
        return {str(e.get("code")) for e in errors if isinstance(e, dict)}
    except (ValueError, AttributeError, TypeError):
        return set()


class Session:
    """Requests to one registry, authenticated, retried and with errors made readable."""

    def __init__(self, domain: str, options: RegistryOptions, credentials: Credentials):
        self.domain = domain
        self.options = options
        self.host = endpoint(domain)
        self._clients: dict[str, httpx.Client] = {}
        self._clients_lock = threading.Lock()
        self.auth = Authenticator(domain, credentials, self.client_for)
        self._base: str | None = None
        self._base_lock = threading.Lock()

    def client_for(self, url: str) -> httpx.Client:
        """The connection pool for a URL's scheme. Loading the system CAs takes ~50 ms here,
        so a plain-HTTP registry never pays for it."""
        scheme = "http" if url.startswith("http://") else "https"
        with self._clients_lock:
            client = self._clients.get(scheme)
            if client is None:
                # For plain HTTP the context is never used; it verifies nothing it could trust.
                verify = ssl_context(self.domain) if scheme == "https" else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                t, n = self.options.timeout, self.options.parallel * 2 + 2
                client = httpx.Client(verify=verify, timeout=httpx.Timeout(t, connect=min(t, 30.0)),
                                      follow_redirects=False,
                                      limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))
                self._clients[scheme] = client
            return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    # -- scheme -------------------------------------------------------------------------
    def base(self) -> str:
        with self._base_lock:
            if self._base is None:
                self._base = self._probe()
            return self._base

    def _probe(self) -> str:
        """Pick https or http (when allowed) by asking `GET /v2/`; learn the auth scheme too.

        A loopback registry is asked over HTTP first (no credentials go with the probe); one
        that answers 400 there speaks TLS. Any other registry is asked over HTTPS first.
        """
        if is_loopback(self.domain):
            http = f"http://{self.host}"
            try:
                response = self._send_once("GET", http + "/v2/", {}, None, None)
                if response.status_code != 400:
                    self._note_challenge(response)
                    return http
            except httpx.HTTPError:
                pass
        https = f"https://{self.host}"
        try:
            response = self._send_once("GET", https + "/v2/", {}, None, None)
        except httpx.ConnectError as err:
            if "CERTIFICATE_VERIFY_FAILED" in str(err) or "certificate verify failed" in str(err):
                # It speaks TLS, with a certificate we cannot trust: never fall back to HTTP.
                raise RegistryError(f"{self.domain}: its TLS certificate is not trusted ({_reason(err)}); "
                                    f"put its CA certificate in {cert_dirs(self.domain)[0]}/ca.crt") from None
            if not allows_http(self.domain, self.options.insecure):
                raise RegistryError(f"{self.domain}: cannot connect over HTTPS: {_reason(err)}"
                                    + ("" if "SSL" not in str(err)
                                       else f" (for a plain-HTTP registry, use --insecure-registry {self.domain})")
                                    ) from None
            http = f"http://{self.host}"
            try:
                response = self._send_once("GET", http + "/v2/", {}, None, None)
            except httpx.HTTPError as err2:
                raise RegistryError(f"{self.domain}: cannot connect: {_reason(err2)}") from None
            self._note_challenge(response)
            return http
        except httpx.HTTPError as err:
            raise RegistryError(f"{self.domain}: cannot connect: {_reason(err)}") from None
        self._note_challenge(response)
        return https

    def _note_challenge(self, response: httpx.Response) -> None:
        if response.status_code == 401:
            self.auth.challenged(response)

    # -- requests -----------------------------------------------------------------------
    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base() + path

    def request(self, method: str, path: str, *, scopes: tuple[str, ...], headers: dict | None = None,
                content=None, stream: bool = False, retry: bool = True,
                ok: tuple[int, ...] = (200,), limit: int = MANIFEST_LIMIT) -> httpx.Response:
        """Send, answering auth challenges and retrying transient failures.

        `content` is bytes, or a callable returning a fresh iterable of bytes for each
        attempt. A status outside `ok` raises a RegistryError (NotFoundError, AuthError).
        Without stream=True the body is read, up to `limit` bytes (more is an error); with
        stream=True the caller reads it and must close the response.
        """
        attempts = 1 + (self.options.retries if retry else 0)
        url = self.url(path)
        auth_tried = False
        delay = self.options.backoff
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(delay, 8.0) * (0.75 + random.random() / 2))
                delay *= 2
            try:
                response = self._send(method, url, headers or {}, content, scopes, stream, limit)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as err:
                if attempt + 1 < attempts:
                    continue
                raise TransientError(f"{self.domain}: {method} {_path(url)} failed after {attempts} "
                                     f"attempt{'s' if attempts > 1 else ''}: {_reason(err)}") from None
            if response.status_code == 401 and not auth_tried:
                auth_tried = True
                self.auth.challenged(response)
                self.auth.forget(scopes)
                response.close()
                try:
                    response = self._send(method, url, headers or {}, content, scopes, stream, limit)
                except httpx.HTTPError as err:
                    if attempt + 1 < attempts:
                        continue
                    raise TransientError(f"{self.domain}: {method} {_path(url)} failed: {_reason(err)}") from None
            if response.status_code in _RETRY_STATUSES and attempt + 1 < attempts:
                wait = _retry_after(response)
                if wait is not None:
                    delay = max(delay, min(wait, 30.0))
                response.close()
                continue
            if response.status_code not in ok:
                self._raise_for(method, url, response, scopes)
            return response
        raise AssertionError("unreachable")

    def _raise_for(self, method: str, url: str, response: httpx.Response, scopes) -> None:
        if response.is_stream_consumed is False:
            try:
                read_body(response, ERROR_BODY_LIMIT, "the error document", max(4 * self.options.timeout, 1.0))
            except (httpx.HTTPError, RegistryError):
                response._content = b""  # unreadable or too large: the status line says enough
        message = f"{self.domain}: {method} {_path(url)}: {error_message(response)}"
        response.close()
        status = response.status_code
        if status == 401:
            hint = "wrong username or password" if self.auth.credentials else \
                f"log in with `cairn login {self.domain}`"
            raise AuthError(f"{message} ({hint})")
        if status == 403:
            raise AuthError(f"{message} (access denied for {', '.join(scopes)})")
        if status == 404 or _error_codes(response) & set(_NOT_FOUND_CODES):
            raise NotFoundError(message)
        if status in _RETRY_STATUSES:
            raise TransientError(message)
        raise RegistryError(message)

    def _send(self, method: str, url: str, headers: dict, content, scopes, stream: bool,
              limit: int) -> httpx.Response:
        auth = self.auth.header(scopes)
        return self._send_once(method, url, headers, content, auth, stream, limit)

    def _send_once(self, method: str, url: str, headers: dict, content, auth: str | None,
                   stream: bool = False, limit: int = MANIFEST_LIMIT) -> httpx.Response:
        origin = _origin(url)
        for _ in range(_MAX_REDIRECTS + 1):
            h = {**ACCEPT_ENCODING, **headers}
            if auth and _origin(url) == origin:
                h["Authorization"] = auth
            body = content() if callable(content) else content
            client = self.client_for(url)
            request = client.build_request(method, url, headers=h, content=body)
            try:
                response = client.send(request, stream=True)
            except httpx.InvalidURL as err:  # httpx reads a redirect's Location even unasked
                raise RegistryError(f"{self.domain}: {method} {_path(url)}: the registry answered with an "
                                    f"unusable URL: {err}") from None
            if response.status_code in _REDIRECTS and "location" in response.headers:
                response.close()
                url = _redirect_target(self.domain, url, response.headers["location"])
                if response.status_code == 303:
                    method, content = "GET", None
                continue
            if not stream:
                try:
                    read_body(response, limit, f"the response to {method} {_path(url)}",
                              max(4 * self.options.timeout, 1.0))
                except TooLargeError as err:
                    raise RegistryError(f"{self.domain}: {err}") from None
            return response
        raise RegistryError(f"{self.domain}: too many redirects for {_path(url)}")


def _redirect_target(domain: str, url: str, location: str) -> str:
    """Where a redirect leads: only ever another http(s) URL (never file:, ftp:, ...)."""
    try:
        target = urljoin(url, location)
        parts = urlsplit(target)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        shown = location if len(location) <= 200 else location[:200] + "..."
        raise RegistryError(f"{domain}: {_path(url)} redirects to {shown!r}, which is not an http(s) URL")
    return target


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path


def _reason(err: Exception) -> str:
    text = str(err) or type(err).__name__
    return text[:300]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value and value.strip().isdigit():
        return float(value.strip())
    return None
