"""Build-arg values kept out of what the store and exported caches record.

A cache record keeps the inputs its key was made from, so that a miss can be explained;
`--build-arg` values are often tokens. The key is still computed from the real inputs
(so it changes when a value does); what is recorded has each value replaced by a
digest of its name and value: "TOKEN=sha256:..." in the environment, and "${TOKEN@sha256:...}"
where the value appears inside another field. Two records still compare equal exactly
when the values were equal, so "build args changed: TOKEN" is explained without the value.
Values shorter than MIN_LENGTH are left as they are: the key itself (a sha256 of the
inputs) would give them away by brute force anyway, and redacting "1" would garble every
path and command that contains the digit.
"""

from __future__ import annotations

import hashlib

MIN_LENGTH = 4


def value_digest(name: str, value: str) -> str:
    return "sha256:" + hashlib.sha256(f"cairn-build-arg\0{name}\0{value}".encode()).hexdigest()


def redact(inputs, build_args) -> dict:
    """`inputs` with the values of `build_args` ({name: value} or pairs) replaced."""
    secrets = sorted(((n, v) for n, v in dict(build_args).items() if v and len(v) >= MIN_LENGTH),
                     key=lambda nv: -len(nv[1]))  # longest first: a value inside another is caught after it
    if not secrets:
        return inputs
    return _walk(inputs, secrets, in_env=False)


def _walk(value, secrets, in_env: bool):
    if isinstance(value, dict):
        return {k: _walk(v, secrets, k == "env") for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, secrets, in_env) for v in value]
    if isinstance(value, str):
        if in_env and "=" in value:
            name, _, val = value.partition("=")
            for secret_name, secret in secrets:
                if name == secret_name and val == secret:
                    return f"{name}={value_digest(name, val)}"
        for name, secret in secrets:
            if secret in value:
                value = value.replace(secret, "${" + name + "@" + value_digest(name, secret) + "}")
    return value
