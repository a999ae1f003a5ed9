"""What the checks need from outside the Dockerfile: a base image's ENV names and whether
its platform is the one the stage asked for (InvalidBaseImagePlatform), and the context's
.dockerignore (CopyIgnoredFile). A base that cannot be resolved is left to the build to report."""

from __future__ import annotations

from .. import platforms
from ..errors import CairnError
from ..store import images


def base_resolver(bases, target: dict, explicit_target: bool = False):
    """For CheckInput.base: (ENV names, mismatch detail or "") of an image, via BaseImages
    (`explicit_target`: --platform was given, so an image of another platform is pulled for it,
    as the build itself resolves it)."""

    def resolve(ref: str, platform_text: str | None, explicit: bool) -> tuple[list[str], str]:
        try:
            want = platforms.parse(platform_text) if platform_text else target
            image = bases.resolve(ref, want, explicit or explicit_target)
            _, config = images.load_documents(bases.store, image)
        except (CairnError, OSError, ValueError):
            return [], ""
        env = [item.partition("=")[0] for item in (config.doc.get("config") or {}).get("Env") or []]
        have = platforms.of_config(config.doc)
        if platforms.same(have, want):
            return env, ""
        return env, (f'Base image {ref} was pulled with platform "{platforms.text(have)}", '
                     f'expected "{platforms.text(want)}" for current build')

    return resolve


class StoredBases:
    """BaseImages' resolve, from the store only: `--check` pulls nothing (an image that is not
    there adds no ENV names and is not compared)."""

    def __init__(self, store):
        self.store = store

    def resolve(self, text: str, platform=None, explicit: bool = False):
        return images.resolve(self.store, text)


def ignore_matcher(context_dir: str, dockerfile_path: str | None):
    """rel path -> excluded by the context's .dockerignore (None when there is none)."""
    from ..context.build_context import BuildContext

    try:
        ctx = BuildContext.open(context_dir, dockerfile_path)
    except (CairnError, OSError):
        return None
    return ctx.ignored if ctx.patterns else None
