"""Environment lists as image configs hold them (`["KEY=value", ...]`) and docker's defaults."""

from __future__ import annotations

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def env_list_get(env: list[str], key: str) -> str | None:
    for item in env:
        k, _, v = item.partition("=")
        if k == key:
            return v
    return None


def env_list_set(env: list[str], key: str, value: str) -> list[str]:
    """Set KEY=value, in place of an existing KEY (keeping the order), else at the end."""
    out = list(env)
    for i, item in enumerate(out):
        if item.partition("=")[0] == key:
            out[i] = f"{key}={value}"
            return out
    out.append(f"{key}={value}")
    return out
