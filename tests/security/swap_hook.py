"""`cairn ARGS...` with the attacker's swap made at an exact moment (test_bind_mount_swap): SWAP
is "PATH=>TARGET" (PATH is renamed away and becomes a link to TARGET), SWAP_AT says when:
"start", just before a container starts (a RUN step's mounts are resolved by then), or
"resolve", just after a bind mount's context source was checked."""

from __future__ import annotations

import os
import sys


def _swap() -> None:
    path, target = os.environ["SWAP"].split("=>")
    if not os.path.islink(path):
        os.rename(path, path + ".moved")
        os.symlink(target, path)


def main() -> int:
    if os.environ["SWAP_AT"] == "start":
        from runtime import process

        real = process.start

        def start(*args, **kw):
            _swap()
            return real(*args, **kw)

        process.start = start
    else:
        from builder.executor import keys, run_mounts  # noqa: F401 (keys keeps the real one: the cache key's)

        real_source = run_mounts.context_source

        def context_source(*args, **kw):
            rel = real_source(*args, **kw)
            _swap()
            return rel

        run_mounts.context_source = context_source
    from builder.cli import main as cli

    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
