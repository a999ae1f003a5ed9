"""Cache keys: sha256 of canonical JSON of a format version, the parent filesystem's key
and the step's expanded definition, minus what cannot change the result (comments, the
Dockerfile line, build args the step cannot see). The inputs are kept with the record,
so a miss can later be explained."""

from __future__ import annotations

import hashlib
import json

FORMAT = "cairn-cache-v1"


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def step_key(parent: str, definition: dict) -> tuple[str, dict]:
    """(key, inputs) for a step on top of the filesystem whose key is `parent`."""
    inputs = {"v": FORMAT, "parent": parent, "step": definition}
    return hashlib.sha256(canonical(inputs).encode()).hexdigest(), inputs


def chain_id(diff_ids: list[str]) -> str:
    """The OCI ChainID of a layer stack: what a FROM's key is, never its tag."""
    if not diff_ids:
        return "scratch"
    chain = diff_ids[0]
    for diff_id in diff_ids[1:]:
        chain = "sha256:" + hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
    return chain


def portable_position(dockerfile_name: str, stage: str, index: int) -> str:
    """A step's place in its Dockerfile (`Dockerfile:stage:index`), the same on every machine:
    how exported records find their earlier versions for explanations."""
    return f"{dockerfile_name}:{stage}:{index}"
