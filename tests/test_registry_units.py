"""Registry pieces without a registry: challenge parsing, insecure hosts, docker's
config.json formats, platform choice from an index."""

from __future__ import annotations

import base64
import json

import pytest

from builder.image import oci
from builder.image.digest import Digest
from builder.registry import credentials
from builder.registry.auth import parse_challenge
from builder.registry.errors import RegistryError
from builder.registry.pull import choose_manifest, parse_platform
from builder.registry.transport import allows_http, endpoint


def test_parse_challenge():
    scheme, params = parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                                     'scope="repository:library/busybox:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                      "scope": "repository:library/busybox:pull"}
    assert parse_challenge('Basic realm="a \\"quoted\\" realm"') == ("basic", {"realm": 'a "quoted" realm'})
    assert parse_challenge("Bearer realm=https://x/token, service=reg") == \
        ("bearer", {"realm": "https://x/token", "service": "reg"})


@pytest.mark.parametrize("domain,insecure,expected", [
    ("localhost:5000", (), True), ("127.0.0.1:5000", (), True), ("127.1.2.3", (), True), ("[::1]:5000", (), True),
    ("registry.local:5000", (), False), ("registry.local:5000", ("registry.local:5000",), True),
    ("registry.local:5000", ("registry.local",), True), ("ghcr.io", (), False), ("10.0.0.1:5000", (), False),
])
def test_which_registries_may_use_plain_http(domain, insecure, expected):
    assert allows_http(domain, insecure) is expected


def test_docker_hub_endpoint():
    assert endpoint("docker.io") == "registry-1.docker.io"
    assert endpoint("ghcr.io") == "ghcr.io"


def test_credentials_round_trip_in_docker_format(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"auths": {}, "psFormat": "keep me"}))
    credentials.save("docker.io", credentials.Credentials("me", "pw:with:colons"))
    credentials.save("localhost:5000", credentials.Credentials("ci", "x"))
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["psFormat"] == "keep me"
    assert base64.b64decode(data["auths"]["https://index.docker.io/v1/"]["auth"]) == b"me:pw:with:colons"
    assert credentials.load("docker.io") == credentials.Credentials("me", "pw:with:colons")
    assert credentials.load("localhost:5000").username == "ci"
    assert "pw" not in repr(credentials.load("docker.io"))
    assert credentials.erase("docker.io") and not credentials.erase("docker.io")
    assert not credentials.load("docker.io")


def test_credentials_written_by_docker_as_urls_and_identity_tokens(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "https://registry.example.com/v1/": {"auth": base64.b64encode(b"u:p").decode()},
        "ghcr.io": {"auth": base64.b64encode(b"u:").decode(), "identitytoken": "refresh"},
    }}))
    assert credentials.load("registry.example.com") == credentials.Credentials("u", "p")
    assert credentials.load("ghcr.io").identity_token == "refresh"
    assert not credentials.load("quay.io")


def test_a_broken_config_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(credentials.CredentialsError, match="cannot read"):
        credentials.load("ghcr.io")


def _index(*platforms) -> oci.Index:
    return oci.Index.build([oci.Descriptor(oci.OCI_MANIFEST, Digest.of(p.encode()), 1,
                                           platform=tuple(sorted(dict(zip(("os", "architecture", "variant"),
                                                                           p.split("/"))).items())))
                            for p in platforms])


def test_choose_manifest_by_platform():
    index = _index("linux/arm/v6", "linux/arm/v7", "linux/arm64/v8", "linux/amd64", "windows/amd64")
    assert choose_manifest(index, parse_platform("linux/amd64")).digest == Digest.of(b"linux/amd64")
    assert choose_manifest(index, parse_platform("linux/arm/v7")).digest == Digest.of(b"linux/arm/v7")
    assert choose_manifest(index, parse_platform("linux/aarch64")).digest == Digest.of(b"linux/arm64/v8")
    with pytest.raises(RegistryError, match="no image for linux/riscv64"):
        choose_manifest(index, parse_platform("linux/riscv64"))
