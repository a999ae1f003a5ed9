"""docker's -e: KEY=VALUE sets, a bare KEY takes our own value (and is skipped when we
have none). (--env-file is read by builder/commands/run_meta.py.)"""

from __future__ import annotations

import os

from ..errors import UsageError
from ..image.envlist import env_list_set


def apply_env_flags(env: list[str], items) -> list[str]:
    """`env` (KEY=VALUE strings) with the -e items applied in order."""
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid -e {item!r}: expected KEY=VALUE or KEY")
        if not eq:
            if key not in os.environ:
                continue
            value = os.environ[key]
        env = env_list_set(env, key, value)
    return env
