"""`--pull missing|always|never`: make sure an image is in the store before it is used,
pulling it when the policy says so."""

from __future__ import annotations

from typing import Callable

from ..errors import CairnError
from ..image.reference import ReferenceError, parse_reference
from ..store import images


def ensure_image(store, text: str, policy: str, options, log: Callable[[str], None]) -> None:
    """Pull `text` unless the policy is "never", or it is "missing" and the store has the image."""
    if policy == "never":
        return
    if policy == "missing":
        try:
            images.resolve(store, text)
            return
        except images.ImageNotFound:
            pass
    try:
        ref = parse_reference(text)
    except ReferenceError:
        return  # an image ID: nothing to pull; resolving it reports the error
    from ..startup_gc import resume
    from .pull import pull

    resume()  # (a pull's work is collected as any command's: builder.startup_gc)
    log(f"Unable to find image '{ref.familiar}' locally" if policy == "missing" else f"Pulling {ref.familiar}")
    try:
        pull(store, ref, options, log=log)
    except CairnError as err:
        raise images.ImageNotFound(f"no such image: {text} (pulling it failed: {err})") from None
