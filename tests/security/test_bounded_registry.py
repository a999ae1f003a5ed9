"""A hostile registry cannot make cairn hold more than a document's cap in memory.

Each attack runs `cairn pull` against a loopback server of our own (tests/security/
hostile_http.py) in a child process with an address-space limit; the child must fail
with a clear error that names what was too large, and its peak memory stays small.
"""

from __future__ import annotations

import pytest

from tests.security.hostile_http import HostileServer, drip, endless, fixed, gzip_bomb
from tests.security.limits import cairn_limited

SMALL = 200 << 20  # peak RSS of a refusing cairn: the interpreter plus a few MiB caps


@pytest.fixture
def server():
    with HostileServer() as s:
        yield s


def _pull(server, tmp_path, repo="evil"):
    return cairn_limited("pull", f"{server.domain}/{repo}:latest", root=tmp_path / "store",
                         env={"CAIRN_REGISTRY_TIMEOUT": "20"})


def test_an_endless_manifest_is_refused_after_4_mib(server, tmp_path):
    server.routes["/v2/evil/manifests/latest"] = endless()
    out = _pull(server, tmp_path)
    assert out.clean_error(), out.stderr
    assert "larger than 4 MiB" in out.stderr and "/v2/evil/manifests/latest" in out.stderr
    assert out.max_rss < SMALL, out.max_rss


def test_a_gzip_bomb_manifest_is_refused_after_4_mib(server, tmp_path):
    bomb = gzip_bomb(1 << 30)
    server.routes["/v2/evil/manifests/latest"] = fixed(bomb, headers={
        "Content-Encoding": "gzip", "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    out = _pull(server, tmp_path)
    assert out.clean_error(), out.stderr
    assert "larger than 4 MiB" in out.stderr
    assert out.max_rss < SMALL, out.max_rss


def test_a_manifest_dripped_a_byte_at_a_time_is_refused_at_its_deadline(server, tmp_path):
    """Each byte comes well within the per-read timeout (1 s here); the document as a whole
    gets 4 timeouts, then the pull stops instead of waiting for ever."""
    server.routes["/v2/evil/manifests/latest"] = drip(seconds=60)
    out = cairn_limited("pull", f"{server.domain}/evil:latest", root=tmp_path / "store",
                        env={"CAIRN_REGISTRY_TIMEOUT": "1"})
    assert out.clean_error(), out.stderr
    assert "did not arrive within 4 s" in out.stderr


def test_an_endless_token_reply_is_refused(server, tmp_path):
    realm = f"http://{server.domain}/token"
    server.routes["/v2/"] = fixed(b"{}", 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="x"'})
    server.routes["/token"] = endless(content_type="application/json")
    out = _pull(server, tmp_path)
    assert out.clean_error(), out.stderr
    assert "token server" in out.stderr and "larger than 1 MiB" in out.stderr
    assert out.max_rss < SMALL, out.max_rss


def test_an_endless_error_document_is_not_read(server, tmp_path):
    server.routes["/v2/evil/manifests/latest"] = endless(status=400, content_type="application/json")
    out = _pull(server, tmp_path)
    assert out.clean_error(), out.stderr
    assert out.max_rss < SMALL, out.max_rss


def test_an_endless_config_is_refused_at_its_descriptor_size(server, tmp_path):
    """--cache-from reads a config into memory: no more than the manifest said it has."""
    from builder.image import oci
    from builder.image.digest import Digest

    config = oci.Descriptor("application/vnd.cairn.cache.config.v1+json", Digest.of(b"{}"), 2)
    manifest = oci.Manifest.build(config, [])
    server.routes["/v2/evil/manifests/latest"] = fixed(manifest.raw, headers={"Content-Type": oci.OCI_MANIFEST})
    server.routes[f"/v2/evil/blobs/{config.digest}"] = endless(content_type="application/octet-stream")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nLABEL a=b\n")
    out = cairn_limited("build", "--cache-from", f"type=registry,ref={server.domain}/evil:latest", str(ctx),
                        root=tmp_path / "store", env={"CAIRN_REGISTRY_TIMEOUT": "20"})
    assert out.returncode == 0, out.stderr  # a broken cache source is a warning; the build goes on
    assert "larger than 2 bytes" in out.stderr
    assert out.max_rss < SMALL, out.max_rss


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x", "data:text/plain,x"])
def test_a_redirect_to_anything_but_http_is_a_clear_error(server, tmp_path, location):
    server.routes["/v2/evil/manifests/latest"] = fixed(b"", 307, {"Location": location})
    out = _pull(server, tmp_path)
    assert out.clean_error(), out.stderr
    assert ("redirects to" in out.stderr and "not an http(s) URL" in out.stderr) or "unusable URL" in out.stderr


@pytest.mark.parametrize("location", ["http://[::1", "file:///etc/passwd", "ftp://x/y"])
def test_an_unusable_upload_location_is_a_clear_error(location):
    import httpx

    from builder.registry.client import RegistryClient
    from builder.registry.errors import RegistryError

    request = httpx.Request("POST", "http://127.0.0.1:5000/v2/x/blobs/uploads/")
    response = httpx.Response(202, headers={"Location": location}, request=request)
    with RegistryClient("127.0.0.1:5000") as client, pytest.raises(RegistryError, match="unusable upload Location"):
        client._location(response)
