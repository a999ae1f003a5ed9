"""The distribution API for one registry: manifests, blob checks, downloads and uploads.

Every byte read is checked against the digest it was asked for: a manifest or blob that
does not hash to its digest is an error, never stored. Uploads are started fresh on each
attempt (a half-sent PUT cannot be resent into the same session), either in one PUT or
in PATCH chunks with Content-Range, and finished with `PUT ?digest=`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from ..bounded import CONFIG_LIMIT, MANIFEST_LIMIT, loads_json, size_text
from ..image import oci
from ..image.digest import Digest, DigestError
from . import credentials as creds_mod
from .credentials import Credentials
from .errors import RegistryError, TransientError
from .options import RegistryOptions
from .transport import Session

MANIFEST_ACCEPT = ", ".join((oci.OCI_INDEX, oci.DOCKER_MANIFEST_LIST, oci.OCI_MANIFEST, oci.DOCKER_MANIFEST))
_CHUNK = 1 << 20


class Cancelled(Exception):
    """Another transfer of the same operation failed; this one stops early."""


def pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"


def push_scope(repo: str) -> str:
    return f"repository:{repo}:pull,push"


@dataclass(frozen=True)
class FetchedManifest:
    raw: bytes
    media_type: str
    digest: Digest


class RegistryClient:
    """One registry (`domain`), shared by the threads of one pull or push."""

    def __init__(self, domain: str, options: RegistryOptions | None = None,
                 credentials: Credentials | None = None, push_to: str | None = None):
        self.domain = domain
        self.push_to = push_to  # the repository being pushed: its reads use the push token too
        self.options = options or RegistryOptions.from_env()
        if credentials is None:
            credentials = creds_mod.load(domain)
        self.session = Session(domain, self.options, credentials)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_scope(self, repo: str) -> str:
        return push_scope(repo) if repo == self.push_to else pull_scope(repo)

    def check_login(self) -> None:
        """`GET /v2/` with our credentials (what `docker login` does); raises AuthError."""
        self.session.request("GET", "/v2/", scopes=())

    # -- manifests ----------------------------------------------------------------------
    def get_manifest(self, repo: str, reference: str, expected: Digest | None = None) -> FetchedManifest:
        r = self.session.request("GET", f"/v2/{repo}/manifests/{quote(reference)}", scopes=(pull_scope(repo),),
                                 headers={"Accept": MANIFEST_ACCEPT}, limit=MANIFEST_LIMIT)
        raw = r.content
        digest = Digest.of(raw)
        where = f"{self.domain}/{repo}@{reference}" if ":" in reference else f"{self.domain}/{repo}:{reference}"
        if expected is not None and digest != expected:
            raise RegistryError(f"{where}: the manifest does not match its digest "
                                f"(expected {expected}, got {digest})")
        header = r.headers.get("docker-content-digest")
        if header and expected is None:
            try:
                claimed = Digest.parse(header)
            except DigestError:
                claimed = None
            if claimed is not None and claimed.algorithm == "sha256" and claimed != digest:
                raise RegistryError(f"{where}: the manifest does not match the digest the registry gives "
                                    f"(Docker-Content-Digest {claimed}, content {digest})")
        media_type = r.headers.get("content-type", "").split(";")[0].strip()
        doc = loads_json(raw, f"{where}: the manifest", RegistryError)
        body_type = doc.get("mediaType") if isinstance(doc, dict) else None
        if body_type and isinstance(body_type, str):
            media_type = body_type
        return FetchedManifest(raw, media_type, digest)

    def put_manifest(self, repo: str, reference: str, raw: bytes, media_type: str) -> Digest:
        r = self.session.request("PUT", f"/v2/{repo}/manifests/{quote(reference)}", scopes=(push_scope(repo),),
                                 headers={"Content-Type": media_type}, content=raw, ok=(200, 201, 202))
        digest = Digest.of(raw)
        header = r.headers.get("docker-content-digest")
        if header and header != str(digest):
            raise RegistryError(f"{self.domain}/{repo}: the registry stored the manifest as {header}, "
                                f"not {digest}")
        return digest

    # -- blobs --------------------------------------------------------------------------
    def blob_exists(self, repo: str, digest: Digest) -> bool:
        r = self.session.request("HEAD", f"/v2/{repo}/blobs/{digest}", scopes=(self._read_scope(repo),),
                                 ok=(200, 404))
        return r.status_code == 200

    def read_blob(self, repo: str, desc: oci.Descriptor, limit: int = CONFIG_LIMIT) -> bytes:
        """A small blob (a config) into memory, checked against its digest and size; reading
        stops as soon as the registry sends more than the descriptor's size."""
        if desc.size > limit:
            raise RegistryError(f"{self.domain}/{repo}: blob {desc.digest} is {desc.size} bytes, larger than "
                                f"the {size_text(limit)} cairn reads for a config")
        r = self.session.request("GET", f"/v2/{repo}/blobs/{desc.digest}", scopes=(self._read_scope(repo),),
                                 limit=desc.size)
        data = r.content
        if len(data) != desc.size or Digest.of(data) != desc.digest:
            raise RegistryError(f"{self.domain}/{repo}: blob {desc.digest} is corrupt in the registry: "
                                f"its content does not match its digest")
        return data

    def fetch_blob(self, repo: str, digest: Digest, size: int | None, new_writer,
                   cancel: threading.Event | None = None):
        """Stream a blob into `new_writer()` (a BlobWriter expecting `digest`); returns its commit().

        A broken or timed-out stream is retried from the start, up to the retry count.
        A blob that arrives complete but with other content is an error at once.
        """
        attempts = 1 + self.options.retries
        for attempt in range(attempts):
            try:
                return self._fetch_once(repo, digest, size, new_writer, cancel)
            except (TransientError, httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as err:
                if attempt + 1 >= attempts:
                    if isinstance(err, TransientError):
                        raise
                    raise TransientError(f"{self.domain}/{repo}: download of {digest} failed after "
                                         f"{attempts} attempts: {err}") from None
                time.sleep(self.options.backoff * (2 ** attempt))
        raise AssertionError("unreachable")

    def _fetch_once(self, repo: str, digest: Digest, size: int | None, new_writer, cancel):
        r = self.session.request("GET", f"/v2/{repo}/blobs/{digest}", scopes=(pull_scope(repo),), stream=True)
        try:
            with new_writer() as w:
                for chunk in r.iter_raw(_CHUNK):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled()
                    w.write(chunk)
                    if size is not None and w.size > size:
                        raise RegistryError(f"{self.domain}/{repo}: blob {digest} is larger than its "
                                            f"descriptor says ({size} bytes)")
                if size is not None and w.size != size:
                    raise RegistryError(f"{self.domain}/{repo}: blob {digest} has {w.size} bytes, "
                                        f"its descriptor says {size}")
                try:
                    return w.commit()
                except RegistryError:
                    raise
                except Exception as err:  # BlobError: the content does not match its digest
                    raise RegistryError(f"{self.domain}/{repo}: blob {digest} is corrupt in the registry: "
                                        f"{err}") from None
        finally:
            r.close()

    def upload_blob(self, repo: str, digest: Digest, size: int, open_source, mount_from: tuple[str, ...] = (),
                    cancel: threading.Event | None = None) -> str:
        """Make `digest` exist in `repo`: "exists", "mounted" or "uploaded".

        `open_source()` returns a fresh binary file positioned at the start of the blob.
        """
        if self.blob_exists(repo, digest):
            return "exists"
        for source in mount_from:
            if source == repo:
                continue
            r = self.session.request(
                "POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={quote(source, safe='/')}",
                scopes=(push_scope(repo), pull_scope(source)), ok=(201, 202))
            if r.status_code == 201:
                return "mounted"
            break  # 202: the registry opened a normal upload instead; start our own below
        attempts = 1 + self.options.retries
        for attempt in range(attempts):
            try:
                self._upload_once(repo, digest, size, open_source, cancel)
                return "uploaded"
            except (TransientError, httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as err:
                if attempt + 1 >= attempts:
                    raise TransientError(f"{self.domain}/{repo}: upload of {digest} failed after {attempts} "
                                         f"attempts: {err}") from None
                time.sleep(self.options.backoff * (2 ** attempt))
        raise AssertionError("unreachable")

    def _upload_once(self, repo: str, digest: Digest, size: int, open_source, cancel) -> None:
        scopes = (push_scope(repo),)
        r = self.session.request("POST", f"/v2/{repo}/blobs/uploads/", scopes=scopes, ok=(202,))
        location = self._location(r)
        chunk = self.options.chunk_size
        with open_source() as src:
            if chunk and size > chunk:
                offset = 0
                while offset < size:
                    data = src.read(min(chunk, size - offset))
                    if not data:
                        raise RegistryError(f"blob {digest} is shorter than {size} bytes in the store")
                    if cancel is not None and cancel.is_set():
                        raise Cancelled()
                    r = self.session.request(
                        "PATCH", location, scopes=scopes, retry=False, content=data, ok=(202, 204),
                        headers={"Content-Type": "application/octet-stream",
                                 "Content-Range": f"{offset}-{offset + len(data) - 1}",
                                 "Content-Length": str(len(data))})
                    location = self._location(r)
                    offset += len(data)
                self.session.request("PUT", _with_digest(location, digest), scopes=scopes, retry=False,
                                     content=b"", ok=(201, 204),
                                     headers={"Content-Length": "0"})
                return
            hasher = hashlib.sha256()

            def body():
                while data := src.read(_CHUNK):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled()
                    hasher.update(data)
                    yield data

            self.session.request("PUT", _with_digest(location, digest), scopes=scopes, retry=False,
                                 content=body(), ok=(201, 204),
                                 headers={"Content-Type": "application/octet-stream",
                                          "Content-Length": str(size)})

    def upload_stream(self, repo: str, chunks, digest_of) -> None:
        """Upload bytes as they are made: one streamed PATCH (chunked transfer encoding), then
        `PUT ?digest=` with the digest `digest_of()` gives once the stream has ended. Not
        retried: the caller falls back to upload_blob() from the finished blob file."""
        scopes = (push_scope(repo),)
        r = self.session.request("POST", f"/v2/{repo}/blobs/uploads/", scopes=scopes, ok=(202,))
        r = self.session.request("PATCH", self._location(r), scopes=scopes, retry=False, content=chunks,
                                 ok=(202, 204), headers={"Content-Type": "application/octet-stream"})
        self.session.request("PUT", _with_digest(self._location(r), digest_of()), scopes=scopes, retry=False,
                             content=b"", ok=(201, 204), headers={"Content-Length": "0"})

    def _location(self, response: httpx.Response) -> str:
        location = response.headers.get("location")
        if not location:
            raise RegistryError(f"{self.domain}: the registry started an upload without a Location")
        try:
            url = response.url.join(location)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise RegistryError(f"{self.domain}: the registry gave an unusable upload Location {location[:200]!r}")
        return str(url)


_shared: dict[tuple, RegistryClient] = {}
_shared_lock = threading.Lock()


@contextmanager
def shared(domain: str, options: RegistryOptions | None = None):
    """One client per registry for the whole process (a build pulls its bases, reads its caches
    and fetches layers through it: one probe, one connection pool, tokens kept)."""
    options = options or RegistryOptions.from_env()
    with _shared_lock:
        client = _shared.get((domain, options))
        if client is None:
            client = _shared[(domain, options)] = RegistryClient(domain, options)
    yield client


def _with_digest(location: str, digest: Digest) -> str:
    return location + ("&" if "?" in location else "?") + f"digest={digest}"
