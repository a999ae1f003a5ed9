"""The API's routes, gathered in one Router."""

from __future__ import annotations

from . import system
from .router import Router


def make_router() -> Router:
    from . import auth, build, cli_route, containers, events, image_archive, image_transfer, images

    router = Router()
    system.add_routes(router)
    images.add_routes(router)
    image_transfer.add_routes(router)
    image_archive.add_routes(router)
    build.add_routes(router)
    auth.add_routes(router)
    containers.add_routes(router)
    events.add_routes(router)
    cli_route.add_routes(router)
    return router
