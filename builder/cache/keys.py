"""Cache keys: sha256 of canonical JSON of a format version, the parent filesystem's key
and the step's expanded definition, minus what cannot change the result (comments, the
Dockerfile line, build args the step cannot see). The inputs are kept with the record,
so a miss can later be explained."""

from __future__ import annotations

import json

FORMAT = "cairn-cache-v1"


# A source's entry nests three JSON lists per directory level ([name, ["d", mode, [...]]]), and
# the C encoder counts each against the recursion limit. A Linux path holds at most PATH_MAX
# (4096) bytes, so a tree is at most 2048 directories deep (one-character names): the limit
# is raised to what that needs, only while such a key is encoded, and only on a RecursionError.
_DEEPEST = 3 * 4096 // 2 + 200


def canonical(value) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        pass
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _DEEPEST + limit))
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    finally:
        sys.setrecursionlimit(limit)


def step_key(parent: str, definition: dict) -> tuple[str, dict]:
    """(key, inputs) for a step on top of the filesystem whose key is `parent`."""
    import hashlib  # (in the functions: a rebuild the build memo answers loads no OpenSSL)

    inputs = {"v": FORMAT, "parent": parent, "step": definition}
    return hashlib.sha256(canonical(inputs).encode()).hexdigest(), inputs


def chain_id(diff_ids: list[str]) -> str:
    """The OCI ChainID of a layer stack: what a FROM's key is, never its tag."""
    import hashlib

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
