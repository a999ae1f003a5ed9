"""Registry errors: what the user is told when a registry refuses, fails or lies."""

from __future__ import annotations

from ..errors import CairnError


class RegistryError(CairnError):
    """A registry answered with an error, or could not be reached."""


class AuthError(RegistryError):
    """The registry refused our credentials (or we have none and it wants some)."""


class NotFoundError(RegistryError):
    """A repository, tag, manifest or blob the registry does not have."""


class TransientError(RegistryError):
    """A failure worth retrying: 5xx, 429, a reset or timed-out connection."""
