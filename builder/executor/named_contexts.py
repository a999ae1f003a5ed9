"""Named build contexts: `cairn build --build-context NAME=VALUE`, as docker buildx means it.

VALUE is a directory (`./dir` or absolute), `docker-image://REF[@DIGEST]` (the store's image,
else pulled; `docker-image://scratch` is the empty image) or `oci-layout://DIR[:TAG][@DIGEST]`.
NAME is normalised as an image name (`docker.io/library/alpine:latest` is `alpine`), and the
context then stands for that name wherever the Dockerfile uses it, as in BuildKit: a stage
of that name is replaced whole (none of its commands run), `FROM NAME`, `COPY --from=NAME`,
`RUN --mount=from=NAME` and the same in ONBUILD triggers read the context. `scratch` and
`context` cannot be replaced.

A context is loaded only when a stage the build needs uses it. A directory is read in
place, untrusted like the main context (its own .dockerignore applies, links resolve inside
it); used as a FROM base it is the image of one layer holding its files, keyed by their
content. An image context is its image with `created` dropped (the stage's image is new).
"""

from __future__ import annotations

import copy
import os
import threading
import time

from runtime.record import Record, record

from .. import platforms
from ..context.build_context import BuildContext
from ..errors import CairnError, UsageError
from ..image.digest import Digest, DigestError
from ..image.layer import Layer
from ..image.reference import ReferenceError, parse_reference
from ..plan import _stage_index
from ..store import images
from .epoch import iso
from .state import StageState, scratch_doc

RESERVED = ("scratch", "context")
LOCAL, IMAGE, LAYOUT = "local", "docker-image", "oci-layout"


def context_name(text: str) -> str | None:
    """A name as BuildKit looks it up (its familiar form, without `:latest`), or None when
    it is no image name (and so no context can mean it)."""
    if not text or text.lower() in RESERVED:
        return None
    try:
        ref = parse_reference(text, default_tag=False)
    except ReferenceError:
        return None
    return ref.familiar.removesuffix(":latest")


@record
class NamedContext(Record):
    name: str
    kind: str  # LOCAL, IMAGE or LAYOUT
    source: str  # an absolute directory, or an image reference ("scratch": the empty image)
    tag: str = "latest"
    digest: Digest | None = None

    def describe(self) -> str:
        return f"--build-context {self.name}"


def parse_build_context(text: str) -> NamedContext:
    """One --build-context value; raises UsageError saying what is wrong."""
    name, eq, value = text.partition("=")
    bad = f"invalid --build-context {text!r}"
    if not eq or not name or not value:
        raise UsageError(f"{bad}: expected NAME=VALUE (a directory, docker-image://REF or oci-layout://DIR)")
    if name.lower() in RESERVED:
        raise UsageError(f"{bad}: {name!r} cannot be replaced by a named context")
    key = context_name(name)
    if key is None:
        raise UsageError(f"{bad}: {name!r} is not a valid context name (an image name: lower case, "
                         "like `base` or `alpine:3.20`)")
    if value.startswith("docker-image://"):
        ref = value[len("docker-image://"):]
        if ref != "scratch":
            try:
                parse_reference(ref)
            except ReferenceError as err:
                raise UsageError(f"{bad}: {err}") from None
        return NamedContext(key, IMAGE, ref)
    if value.startswith("oci-layout://"):
        path, at, digest_text = value[len("oci-layout://"):].partition("@")
        path, colon, tag = path.partition(":")
        digest = None
        if at:
            try:
                digest = Digest.parse(digest_text)
            except DigestError as err:
                raise UsageError(f"{bad}: {err}") from None
        if colon and not tag:
            raise UsageError(f"{bad}: an empty tag after ':'")
        if not path or not os.path.isdir(path):
            raise UsageError(f"{bad}: {path or '(no path)'} is not a directory (an OCI layout)")
        return NamedContext(key, LAYOUT, os.path.abspath(path), tag or "latest", digest)
    if "://" in value or value.startswith("git@"):
        scheme = value.split("://", 1)[0] if "://" in value else "git"
        raise UsageError(f"{bad}: {scheme} contexts are not supported (use a directory, docker-image:// "
                         "or oci-layout://)")
    if not os.path.isdir(value):
        raise UsageError(f"{bad}: {value} is not a directory")
    return NamedContext(key, LOCAL, os.path.abspath(value))


@record
class Loaded(Record):
    spec: NamedContext
    image: images.ImageRecord | None = None  # an image context (None for scratch and directories)
    local: BuildContext | None = None  # a directory context


class NamedContexts:
    """The build's named contexts, each loaded once, when first used (by any stage thread)."""

    def __init__(self, specs, store, bases, dockerfile=None):
        self.specs = {spec.name: spec for spec in specs}  # (a later flag for a name wins)
        self.store, self.bases, self.dockerfile = store, bases, dockerfile
        self._loaded: dict[tuple[str, str], Loaded] = {}
        self._lock = threading.RLock()

    def key(self, name: str) -> str | None:
        """The named context `name` means, or None."""
        if not self.specs:
            return None
        found = context_name(name)
        return found if found in self.specs else None

    def for_ref(self, ref: str) -> str | None:
        """The context a `--from=ref` reads: that of the stage it names when a context replaced
        that stage, else the context of that name (a stage of the file is never one)."""
        if not self.specs:
            return None
        if self.dockerfile is not None:
            idx = _stage_index(self.dockerfile, ref)
            if idx is not None:
                name = self.dockerfile.stages[idx].name
                return self.key(name) if name else None
        return self.key(ref)

    def load(self, key: str, platform: dict | None = None, explicit: bool = False) -> Loaded:
        """The context, loaded; an image for `platform` (the host's by default: see BaseImages)."""
        spec = self.specs[key]
        if spec.kind == IMAGE:
            return self._image(spec, platform, explicit)  # (BaseImages keeps what it resolved)
        which = (key, platforms.text(platform or platforms.host()) if spec.kind == LAYOUT else "")
        with self._lock:
            if which not in self._loaded:
                self._loaded[which] = self._load(spec, platform)
            return self._loaded[which]

    def _load(self, spec: NamedContext, platform: dict | None) -> Loaded:
        if spec.kind == LOCAL:
            return Loaded(spec, local=BuildContext.open(spec.source))
        if spec.kind == LAYOUT:
            from ..archive.oci_layout import load_layout_image

            try:
                return Loaded(spec, image=load_layout_image(self.store, spec.source, spec.tag, spec.digest,
                                                            platform))
            except CairnError as err:
                raise CairnError(f"{spec.describe()}=oci-layout://{spec.source}: {err}") from None
        raise AssertionError(spec.kind)

    def _image(self, spec: NamedContext, platform: dict | None, explicit: bool) -> Loaded:
        if spec.source == "scratch":
            return Loaded(spec)
        try:
            return Loaded(spec, image=self.bases.resolve(spec.source, platform, explicit))
        except images.ImageNotFound:
            raise CairnError(f"{spec.describe()}=docker-image://{spec.source}: the image is not in the store "
                             "and cannot be pulled") from None
        except CairnError as err:
            raise CairnError(f"{spec.describe()}=docker-image://{spec.source}: {err}") from None

    def base_state(self, key: str, platform: dict, explicit: bool, stat_cache, epoch: int | None,
                   make_layer) -> StageState:
        """What a stage FROM the context starts with, on `platform` (`make_layer(store, prefix,
        fill, epoch)` writes a layer)."""
        loaded = self.load(key, platform, explicit)
        if loaded.image is not None:
            _, config = images.load_documents(self.store, loaded.image)
            doc = copy.deepcopy(config.doc)
            doc.pop("created", None)  # as BuildKit: the image built on it is new
            layers = [Layer(l.diff_id, l.descriptor) for l in loaded.image.layers]
            return StageState(self.store, layers, doc)
        doc = scratch_doc(platform)
        if loaded.local is None:
            return StageState(self.store, [], doc)
        with self._lock:  # (two stages FROM one directory make its layer once)
            layer = self._local_layer(loaded.local, stat_cache, epoch, make_layer)
        doc["history"].append({"created": iso(epoch if epoch is not None else int(time.time())), "created_by": "",
                               "comment": "buildkit.exporter.image.v0"})  # (BuildKit's entry for a layer without one)
        return StageState(self.store, [layer], doc)

    def _local_layer(self, ctx: BuildContext, stat_cache, epoch, make_layer) -> Layer:
        """The directory's files as one layer, keyed by their content: an unchanged directory
        reuses the layer it made before."""
        from ..cache import records
        from ..cache.keys import step_key
        from ..cache.sources import hash_context_sources
        from .copy import copy_into_layer

        definition = {"FROM directory": hash_context_sources(ctx, [""], stat_cache, with_mode=True)}
        if epoch is not None:
            definition["source_date_epoch"] = epoch
        key, inputs = step_key("scratch", definition)
        hit = records.lookup(self.store, key)
        if isinstance(hit, records.Hit) and not hit.empty:
            return hit.layer
        layer = make_layer(self.store, "context-",
                           lambda into: copy_into_layer(into, ctx, ["."], [], "/", "/", [], None, None), epoch)
        records.record(self.store, key, "scratch", inputs, layer.diff_id, layer.descriptor.size)
        return layer
