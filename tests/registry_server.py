"""The real CNCF distribution registry (`docker-registry serve`) on 127.0.0.1 for tests.

Three setups: no auth over HTTP; htpasswd (bcrypt, from apache2-utils' `htpasswd -B`) over
TLS with a CA made here; and token auth, where the registry trusts a certificate made here
and a small token server in this process signs RS256 JWTs with its key (the real Bearer
flow: 401 challenge -> token realm -> retry). Every server is stopped and its port freed
when the test ends, also on failure.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

USER, PASSWORD = "ci-user", "s3cret-Pa55"
SERVICE, ISSUER = "cairn-test-registry", "cairn-test-issuer"


def available() -> bool:
    return shutil.which("docker-registry") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- certificates ------------------------------------------------------------------------

@dataclass
class Certs:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    key: object = field(repr=False, default=None)
    cert_der: bytes = b""


def make_certs() -> Certs:
    """A CA, and a server certificate for 127.0.0.1 and localhost signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cairn test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return Certs(ca.public_bytes(pem), cert.public_bytes(pem),
                 key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption()),
                 key, cert.public_bytes(serialization.Encoding.DER))


def make_signing_cert() -> Certs:
    """A self-signed certificate whose key signs tokens; the registry trusts it as a root."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cairn test token signer")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return Certs(cert.public_bytes(pem), cert.public_bytes(pem), b"", key,
                 cert.public_bytes(serialization.Encoding.DER))


# -- token server ------------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Signs JWTs for the registry's `auth: token`; counts the tokens it issued, by scope."""

    def __init__(self, signer: Certs, users: dict[str, str]):
        self.signer = signer
        self.users = users
        self.issued: list[tuple[str, tuple[str, ...]]] = []
        self.refused = 0
        self.port = free_port()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = parse_qs(urlsplit(self.path).query)
                account = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if server.users.get(user) != password:
                        server.refused += 1
                        self.send_response(401)
                        self.end_headers()
                        return
                    account = user
                scopes = tuple(query.get("scope", []))
                server.issued.append((account or "", scopes))
                body = json.dumps({"token": server.sign(account, scopes), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def sign(self, account: str | None, scopes: tuple[str, ...]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            granted = [a for a in actions.split(",") if a and account]  # anonymous gets nothing
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.signer.cert_der).decode()]}
        claims = {"iss": ISSUER, "sub": account or "", "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.signer.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- the registry ------------------------------------------------------------------------

class Registry:
    """One `docker-registry serve` process with its own storage directory and port."""

    def __init__(self, workdir: Path, mode: str = "plain", port: int | None = None):
        self.workdir = Path(workdir)
        self.mode = mode
        self.port = port or free_port()
        self.storage = self.workdir / "storage"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.certs: Certs | None = None
        self.token_server: TokenServer | None = None
        self.proc: subprocess.Popen | None = None
        self._config = self.workdir / "config.yml"
        self._write_config()
        self.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self) -> None:
        lines = ["version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true", "storage:",
                 "  filesystem:", f"    rootdirectory: {self.storage}", "  delete:", "    enabled: true",
                 "  maintenance:", "    uploadpurging:", "      enabled: false",
                 "http:", f"  addr: 127.0.0.1:{self.port}", f"  secret: {uuid.uuid4().hex}"]
        if self.mode == "htpasswd":
            self.certs = make_certs()
            (self.workdir / "server.crt").write_bytes(self.certs.cert_pem + self.certs.ca_pem)
            (self.workdir / "server.key").write_bytes(self.certs.key_pem)
            (self.workdir / "ca.crt").write_bytes(self.certs.ca_pem)
            out = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, check=True)
            (self.workdir / "htpasswd").write_bytes(out.stdout)
            lines += ["  tls:", f"    certificate: {self.workdir / 'server.crt'}",
                      f"    key: {self.workdir / 'server.key'}",
                      "auth:", "  htpasswd:", "    realm: cairn-test", f"    path: {self.workdir / 'htpasswd'}"]
        elif self.mode == "token":
            signer = make_signing_cert()
            (self.workdir / "token-root.pem").write_bytes(signer.cert_pem)
            self.token_server = TokenServer(signer, {USER: PASSWORD})
            lines += ["auth:", "  token:", f"    realm: {self.token_server.realm}", f"    service: {SERVICE}",
                      f"    issuer: {ISSUER}", f"    rootcertbundle: {self.workdir / 'token-root.pem'}"]
        elif self.mode != "plain":
            raise ValueError(self.mode)
        self._config.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self.log = open(self.workdir / "registry.log", "ab")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(self._config)], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {(self.workdir / 'registry.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("docker-registry did not start listening within 15 s")

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        if getattr(self, "log", None):
            self.log.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if getattr(self, "log", None):
            self.log.close()

    def close(self) -> None:
        self.stop()
        if self.token_server:
            self.token_server.stop()

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def blob_path(self, digest: str) -> Path:
        hexd = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"

    def env(self, home: Path) -> dict[str, str]:
        """Environment for a cairn (or skopeo) process that trusts this registry's CA."""
        if self.certs is not None:
            d = Path(home) / ".config" / "cairn" / "certs.d" / self.host
            d.mkdir(parents=True, exist_ok=True)
            (d / "ca.crt").write_bytes(self.certs.ca_pem)
        return {"HOME": str(home), "DOCKER_CONFIG": str(Path(home) / ".docker")}
