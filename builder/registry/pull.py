"""`cairn pull`: a reference into the store, verified, all or nothing.

The tag resolves to a manifest or an index; from an index we take the manifest for the
platform asked for (the host's by default). Config and layers download in parallel,
streamed into blob files that are hashed as they arrive and renamed into place only when
they match their digest; each layer is then decompressed and checked against the diff_id
the config gives it before that mapping is recorded. The image record and its tag are
written last, in one transaction: a pull that fails leaves no tag and no partial blob.
Layers are unpacked into snapshots when a build or a run first needs them.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..bounded import CONFIG_LIMIT, size_text
from ..errors import CairnError, UsageError
from ..image import oci
from ..image.config import host_platform
from ..image.digest import Digest
from ..image.reference import Reference
from ..store import images
from ..store.blob_locations import record_locations, record_remote_layer, remote_layer
from ..store.store import Store
from .client import Cancelled, RegistryClient, shared
from .errors import RegistryError
from .options import RegistryOptions


@dataclass(frozen=True)
class PullResult:
    image: images.ImageRecord
    digest: Digest          # the digest the reference resolved to (an index's, for multi-platform)
    downloaded: int         # blobs fetched
    bytes: int              # bytes fetched
    up_to_date: bool


def parse_platform(text: str | None) -> dict[str, str]:
    """`linux/arm64/v8` -> {"os": "linux", "architecture": "arm64", "variant": "v8"}."""
    if not text:
        return host_platform()
    parts = text.lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"invalid --platform {text!r}: expected OS/ARCH[/VARIANT]")
    out = {"os": parts[0], "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(parts[1], parts[1])}
    if len(parts) == 3:
        out["variant"] = parts[2]
    return out


def _platform_text(p: dict[str, str]) -> str:
    return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)


def choose_manifest(index: oci.Index, want: dict[str, str]) -> oci.Descriptor:
    candidates = []
    for desc in index.manifests:
        plat = dict(desc.platform)
        if desc.media_type not in oci.MANIFEST_TYPES and desc.media_type:
            continue
        if plat.get("os") != want["os"] or plat.get("architecture") != want["architecture"]:
            continue
        variant = plat.get("variant")
        if want.get("variant") and variant and variant != want["variant"]:
            continue
        if want.get("variant") is None and want["architecture"] == "arm64" and variant not in (None, "v8"):
            continue
        candidates.append(desc)
    if not candidates:
        offered = sorted({_platform_text(dict(d.platform)) for d in index.manifests if d.platform})
        raise RegistryError(f"no image for {_platform_text(want)} in the index "
                            f"(it has: {', '.join(offered) or 'no platforms'})")
    return candidates[0]


def pull(store: Store, ref: Reference, options: RegistryOptions | None = None, platform: str | None = None,
         log=lambda line: None, lazy: bool = False, credentials=None) -> PullResult:
    """Pull `ref` into the store. With lazy=True (a build's FROM) only the manifest and config
    come now; the layers are recorded as held by the registry and fetched when first read.
    `credentials` (cairn serve: the client's own) replace the ones saved on this host."""
    want = parse_platform(platform)
    with (shared(ref.domain, options) if credentials is None
          else RegistryClient(ref.domain, options, credentials)) as client:
        top = client.get_manifest(ref.path, str(ref.digest) if ref.digest else ref.tag or "latest", ref.digest)
        manifest_doc = top
        if top.media_type in oci.INDEX_TYPES:
            index = oci.Index.parse(top.raw, top.media_type)
            desc = choose_manifest(index, want)
            manifest_doc = client.get_manifest(ref.path, str(desc.digest), desc.digest)
        if manifest_doc.media_type not in oci.MANIFEST_TYPES:
            raise RegistryError(f"{ref}: not an image (media type {manifest_doc.media_type or 'unknown'})")
        manifest = oci.Manifest.parse(manifest_doc.raw, manifest_doc.media_type)
        if manifest.config.media_type not in oci.CONFIG_TYPES:
            raise RegistryError(f"{ref}: not a container image (config media type {manifest.config.media_type})")
        if manifest.config.size > CONFIG_LIMIT:
            raise RegistryError(f"{ref}: the image config is {manifest.config.size} bytes, larger than the "
                                f"{size_text(CONFIG_LIMIT)} cairn reads")
        for layer in manifest.layers:
            if layer.media_type not in oci.LAYER_COMPRESSION:
                raise RegistryError(f"{ref}: unsupported layer media type {layer.media_type!r}")
        tags = [ref] if ref.digest is None else []
        existing = _existing(store, manifest, lazy)
        if existing is not None:
            if tags:
                images.add_image(store, manifest, _config(store, manifest), tags)
            return PullResult(images.get_image(store, manifest.digest), top.digest, 0, 0, True)

        needed = [d for d in (manifest.config, *([] if lazy else manifest.layers)) if not store.blobs.has(d.digest)]
        fetched = [0, 0]
        cancel = threading.Event()
        lock = threading.Lock()

        def fetch(desc: oci.Descriptor) -> None:
            try:
                client.fetch_blob(ref.path, desc.digest, desc.size,
                                  lambda: store.blobs.writer(desc.digest), cancel)
            except Cancelled:
                return
            except BaseException:
                cancel.set()
                raise
            with lock:
                fetched[0] += 1
                fetched[1] += desc.size
            if desc is not manifest.config:
                log(f"{desc.digest.hex[:12]}: Pull complete")

        with store.adding():
            workers = max(1, min(client.options.parallel, len(needed)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cairn-pull") as pool:
                futures = [pool.submit(fetch, d) for d in needed]
            errors = [f.exception() for f in futures if f.exception() is not None]
            if errors:
                raise errors[0]
            config = _config(store, manifest)
            if len(config.diff_ids) != len(manifest.layers):
                raise RegistryError(f"{ref}: the manifest has {len(manifest.layers)} layers but the config lists "
                                    f"{len(config.diff_ids)}")
            pairs = list(zip(config.diff_ids, manifest.layers))
            _check_layers(store, ref, [(d, l) for d, l in pairs if store.blobs.has(l.digest)], workers)
            for diff_id, layer in pairs:
                if store.blobs.has(layer.digest):
                    store.record_layer_blob(diff_id, layer.digest, layer.media_type, layer.size, verified=True)
                else:
                    record_remote_layer(store, diff_id, layer, ref.repository)
            image = images.add_image(store, manifest, config, tags)
            record_locations(store, ref.repository, [d.digest for d in (manifest.config, *manifest.layers)])
        return PullResult(image, top.digest, fetched[0], fetched[1], False)


def _check_layers(store: Store, ref: Reference, pairs: list[tuple[Digest, oci.Descriptor]], workers: int) -> None:
    """Each stored layer blob must uncompress to the diff_id the config gives it, before the
    mapping is recorded: otherwise a crafted image could name another image's layer and have
    its own blob pushed in that layer's place."""
    from ..store.layer_check import LayerMismatch, check_layer_blob

    def one(pair):
        diff_id, layer = pair
        try:
            check_layer_blob(store, diff_id, layer.digest, layer.media_type)
        except LayerMismatch as err:
            raise RegistryError(f"{ref}: {err}") from None

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cairn-verify") as pool:
        list(pool.map(one, pairs))


def _config(store: Store, manifest: oci.Manifest) -> oci.ImageConfig:
    try:
        return oci.ImageConfig.parse(store.blobs.read(manifest.config.digest))
    except CairnError:
        raise
    except Exception as err:  # noqa: BLE001 - a config we cannot read is the registry's fault
        raise RegistryError(f"the image config {manifest.config.digest} is unreadable: {err}") from None


def _existing(store: Store, manifest: oci.Manifest, lazy: bool) -> images.ImageRecord | None:
    try:
        image = images.get_image(store, manifest.digest)
    except images.ImageNotFound:
        return None
    for layer in image.layers:
        if not store.blobs.has(layer.descriptor.digest) and not store.has_snapshot(layer.diff_id):
            if not (lazy and remote_layer(store, layer.diff_id) is not None):
                return None
    return image
