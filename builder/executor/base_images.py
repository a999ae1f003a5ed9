"""Images named by FROM, COPY --from and RUN --mount from: the store's, or pulled.

An image missing from the store is pulled from its registry (once per build, however
many stages name it), or copied from a fallback store when that one holds it (a
`cairn bench` replay in a fresh store); pulled: its manifest and config only; its layers are fetched when a step
first reads them (layer_sources). With `--pull`, every named image is resolved at the registry
first, so a moved tag is noticed; the store's copy is used when it is the same image.
"""

from __future__ import annotations

import threading

from ..errors import CairnError
from ..image.reference import ReferenceError, parse_reference
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
        self._warned: set[str] = set()  # images of another platform used as they are
        self._lock = threading.Lock()
        self.local: dict[str, str] = {}  # name -> manifest of each image taken from the store as it is
        # an image was pulled or copied in, or SOURCE_DATE_EPOCH fetched from a stage's URL (stage_start.build_epoch):
        # the whole-build memo keys only what is local
        self.fetched = False

    def resolve(self, text: str, platform: dict | None = None, explicit: bool = False) -> images.ImageRecord:
        """An image by name or ID, for `platform` (the host's by default); raises
        ImageNotFound or a RegistryError. When the store's image is for another platform, it
        is pulled for this one if the platform was asked for `explicit`ly (--platform), and
        used with a warning otherwise (as docker does)."""
        from .. import platforms

        want = platform or platforms.host()
        key = text if platforms.same(want, platforms.host()) else f"{text}@{platforms.text(want)}"
        with self._lock:
            if key in self._pulled:
                return self._pulled[key]
            was, self.fetched = self.fetched, True  # (put back when the store's image is returned below)
            local = None
            if not self.always_pull:
                try:
                    local = images.resolve(self.store, text)
                except images.ImageNotFound:
                    pass
                if local is not None:
                    have = platforms.of_config(images.load_documents(self.store, local)[1].doc)
                    if platforms.same(have, want) or not explicit:
                        if not platforms.same(have, want) and key not in self._warned:
                            self._warned.add(key)
                            self.log(f"[warning] {text} in the store is for {platforms.text(have)}, "
                                     f"not {platforms.text(want)}: using it")
                        self.local[text] = str(local.manifest)
                        self.fetched = was
                        return local
                    try:
                        self._pulled[key] = self._pull(text, want)
                    except (CairnError, OSError) as err:
                        raise CairnError(f"{text} in the store is for {platforms.text(have)}, not the "
                                         f"{platforms.text(want)} asked for, and pulling it for "
                                         f"{platforms.text(want)} failed: {err}") from None
                    return self._pulled[key]
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
                    self._pulled[key] = copy_image(self.fallback, self.store, found, tags)
                    return self._pulled[key]
            try:
                parse_reference(text)  # only a reference is pulled
            except ReferenceError:
                return images.resolve(self.store, text)  # an image ID: never pulled
            self._pulled[key] = self._pull(text, want)
            return self._pulled[key]

    def _pull(self, text: str, want: dict) -> images.ImageRecord:
        from .. import platforms
        from ..registry.pull import pull

        ref = parse_reference(text)
        other = not platforms.same(want, platforms.host())
        self.log(f"pulling {ref.familiar}" + (f" for {platforms.text(want)}" if other else ""))
        return pull(self.store, ref, self.registry_options, platforms.text(want), lazy=True).image


class StageBases:
    """One stage's view of BaseImages: the images its COPY --from and RUN --mount from= name
    resolve for the stage's platform, as BuildKit resolves them."""

    def __init__(self, bases: BaseImages, platform: dict, explicit: bool):
        self.bases, self.platform, self.explicit = bases, platform, explicit
        self.registry_options = bases.registry_options

    def resolve(self, text: str) -> images.ImageRecord:
        return self.bases.resolve(text, self.platform, self.explicit)
