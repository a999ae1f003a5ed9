"""docker run's exit statuses for cairn's own errors: 125.

`docker run` exits with the container's status, 126 (found, not executable) or 127 (not
found) for its command, and 125 for everything that fails before: an unknown flag or a
bad value, no such image, a name in use, a setup that failed. The container's codes come
from builder.containers (ContainerError); this command class gives the rest 125. A
`Refused` error (docker's meaning cannot hold here) keeps its 2 and its hint.
"""

from __future__ import annotations

import click

from ..errors import CairnError, Refused

RUN_FAILED = 125


class SetupFailed(CairnError):
    exit_code = RUN_FAILED


class DockerRunCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.ClickException as err:  # unknown flag, missing IMAGE, a value of the wrong type
            err.exit_code = RUN_FAILED
            raise

    def invoke(self, ctx: click.Context):
        from ..containers.run import ContainerError

        try:
            return super().invoke(ctx)
        except (Refused, ContainerError):
            raise
        except click.ClickException as err:
            err.exit_code = RUN_FAILED
            raise
        except CairnError as err:
            err.exit_code = RUN_FAILED
            raise
        except OSError as err:
            where = f": {err.filename}" if err.filename else ""
            raise SetupFailed(f"{err.strerror or err}{where}") from err
