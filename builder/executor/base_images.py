"""Images named by FROM, COPY --from and RUN --mount from: the store's, or pulled.

An image missing from the store is pulled from its registry (once per build, however
many stages name it), or copied from a fallback store when that one holds it (a
`cairn bench` replay in a fresh store); pulled: its manifest and config only; its layers are fetched when a step
first reads them (layer_sources). With `--pull`, every named image is resolved at the registry
first, so a moved tag is noticed; the store's copy is used when it is the same image.
"""

from __future__ import annotations

import threading

from ..reference import ReferenceError, parse_reference
from ..store import images
from ..store.store import Store


class BaseImages:
    def __init__(self, store: Store, registry_options=None, always_pull: bool = False, log=lambda line: None,
                 fallback: Store | None = None):
        self.store = store
        self.fallback = fallback  # another local store to take a missing image from before pulling
        self.registry_options = registry_options
        self.always_pull = always_pull
        self.log = log
        self._pulled: dict[str, images.ImageRecord] = {}
        self._lock = threading.Lock()

    def resolve(self, text: str) -> images.ImageRecord:
        """An image by name or ID; raises ImageNotFound or a RegistryError."""
        with self._lock:
            if text in self._pulled:
                return self._pulled[text]
            if not self.always_pull:
                try:
                    return images.resolve(self.store, text)
                except images.ImageNotFound:
                    pass
            if self.fallback is not None and not self.always_pull:
                try:
                    found = images.resolve(self.fallback, text)
                except images.ImageNotFound:
                    found = None
                if found is not None:
                    from ..store.transfer import copy_image

                    try:
                        tags = [parse_reference(text)]
                    except ReferenceError:
                        tags = []  # an image ID
                    self._pulled[text] = copy_image(self.fallback, self.store, found, tags)
                    return self._pulled[text]
            try:
                ref = parse_reference(text)
            except ReferenceError:
                return images.resolve(self.store, text)  # an image ID: never pulled
            from ..registry.pull import pull

            self.log(f"pulling {ref.familiar}")
            result = pull(self.store, ref, self.registry_options, lazy=True)
            self._pulled[text] = result.image
            return result.image
