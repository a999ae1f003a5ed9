"""What the fuzz tests share: their time budget, and the errors the project may raise.

The three fuzz runs (Dockerfile, tar, manifests) together take well under a minute with
the default `ci` hypothesis profile; HYPOTHESIS_PROFILE=deep runs each for longer.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

import grammar
from builder.errors import CairnError

OWN_ERRORS = (CairnError, grammar.DockerfileError)


def fuzz_settings(share: int = 4):
    """A fraction (1/share) of the profile's examples, no per-example deadline."""
    return settings(max_examples=max(20, settings.default.max_examples // share), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
