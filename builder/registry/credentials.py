"""Registry credentials in docker's format: `$DOCKER_CONFIG/config.json` (default ~/.docker).

`auths` maps a registry to `{"auth": base64("user:password")}` (or an `identitytoken`);
`credHelpers` names a helper per registry and `credsStore` one for all; a helper is the
program `docker-credential-NAME`, called with `get`, `store` or `erase` and the JSON docker
sends on stdin. Docker Hub's key is `https://index.docker.io/v1/`, as docker writes it.
Secrets never appear in errors or logs.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic_file import write_atomically
from .errors import RegistryError

DOCKER_HUB_KEY = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)  # an OAuth refresh token (docker's identitytoken)

    def __bool__(self) -> bool:
        return bool(self.username or self.identity_token)


class CredentialsError(RegistryError):
    pass


def config_dir() -> Path:
    env = os.environ.get("DOCKER_CONFIG")
    return Path(env) if env else Path.home() / ".docker"


def server_key(domain: str) -> str:
    return DOCKER_HUB_KEY if domain in ("docker.io", "index.docker.io", "registry-1.docker.io") else domain


def _read_config(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise CredentialsError(f"cannot read {path}: {err}") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{path} is not a JSON object")
    return data


def _write_config(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def fill(f):
        json.dump(data, f, indent="\t")
        f.write("\n")

    write_atomically(path, fill, text=True, mode_bits=0o600)


def _helper_for(data: dict, key: str) -> str | None:
    helpers = data.get("credHelpers") or {}
    if isinstance(helpers, dict):
        for name in (key, key.removeprefix("https://").removeprefix("http://").rstrip("/")):
            if helpers.get(name):
                return str(helpers[name])
    store = data.get("credsStore")
    return str(store) if store else None


def _call_helper(helper: str, action: str, stdin: str) -> str:
    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run([program, action], input=stdin.encode(), capture_output=True, timeout=60)
    except FileNotFoundError:
        raise CredentialsError(f"credential helper {program} is not installed (named in "
                               f"{config_dir() / 'config.json'})") from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(f"credential helper {program} did not answer within 60 s") from None
    out = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0:
        message = out or proc.stderr.decode(errors="replace").strip()
        if action == "get" and "credentials not found" in message.lower():
            return ""
        raise CredentialsError(f"credential helper {program} {action} failed: {message[:200]}")
    return out


def _matching_auth(auths: dict, key: str) -> dict | None:
    if key in auths:
        return auths[key]
    # docker also accepts entries written as URLs (https://host, https://host/v1/).
    for name, entry in auths.items():
        bare = name.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
        if bare == key or (key == DOCKER_HUB_KEY and bare in ("index.docker.io", "docker.io")):
            return entry
    return None


def load(domain: str) -> Credentials:
    """The stored credentials for a registry, or empty Credentials (anonymous)."""
    path = config_dir() / "config.json"
    data = _read_config(path)
    key = server_key(domain)
    helper = _helper_for(data, key)
    if helper:
        out = _call_helper(helper, "get", key)
        if not out:
            return Credentials()
        try:
            reply = json.loads(out)
            user, secret = reply.get("Username", ""), reply.get("Secret", "")
        except (ValueError, AttributeError):
            raise CredentialsError(f"credential helper docker-credential-{helper} gave no JSON") from None
        if user == "<token>":
            return Credentials(identity_token=secret)
        return Credentials(user, secret)
    entry = _matching_auth(data.get("auths") or {}, key)
    if not entry:
        return Credentials()
    token = entry.get("identitytoken") or ""
    user, password = entry.get("username") or "", entry.get("password") or ""
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise CredentialsError(f"{path}: the auth entry for {key} is not base64 of user:password") from None
    return Credentials(user, password, token)


def save(domain: str, creds: Credentials) -> str:
    """Store credentials as docker would; returns where they went (a file or a helper)."""
    path = config_dir() / "config.json"
    data = _read_config(path)
    key = server_key(domain)
    helper = _helper_for(data, key)
    if helper:
        user, secret = (("<token>", creds.identity_token) if creds.identity_token
                        else (creds.username, creds.password))
        _call_helper(helper, "store", json.dumps({"ServerURL": key, "Username": user, "Secret": secret}))
        data.setdefault("auths", {})[key] = {}
        _write_config(path, data)
        return f"the credential helper docker-credential-{helper}"
    entry: dict = {"auth": base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()}
    if creds.identity_token:
        entry = {"auth": base64.b64encode(f"{creds.username}:".encode()).decode(),
                 "identitytoken": creds.identity_token}
    data.setdefault("auths", {})[key] = entry
    _write_config(path, data)
    return str(path)


def erase(domain: str) -> bool:
    """Forget a registry's credentials; False when there were none."""
    path = config_dir() / "config.json"
    data = _read_config(path)
    key = server_key(domain)
    helper = _helper_for(data, key)
    found = False
    if helper:
        try:
            _call_helper(helper, "erase", key)
            found = True
        except CredentialsError:
            pass
    auths = data.get("auths") or {}
    for name in list(auths):
        if name == key or _matching_auth({name: auths[name]}, key) is not None:
            del auths[name]
            found = True
    if found:
        _write_config(path, data)
    return found
