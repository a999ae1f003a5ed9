"""Fuzz the image document parsers: manifests, indexes and configs as a registry, an
archive or a cache directory might hand them over (JSON of any shape, with the fields we
read given odd values, and raw bytes), through builder/image/oci.py and the pull's choice of a
platform from an index. Nothing but the project's own errors may escape."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from builder.cache import manifest as cache_manifest
from builder.image import oci
from builder.registry.pull import choose_manifest, parse_platform
from tests.security.fuzzing import OWN_ERRORS, fuzz_settings

DIGEST = "sha256:" + "a" * 64
KEYS = ["mediaType", "schemaVersion", "config", "layers", "manifests", "digest", "size", "annotations",
        "platform", "os", "architecture", "variant", "rootfs", "type", "diff_ids", "history", "Env"]
SCALARS = st.none() | st.booleans() | st.integers(-2, 1 << 70) | st.floats(allow_nan=True) | st.sampled_from(
    ["", DIGEST, "sha256:x", "md5:" + "a" * 32, "layers", "linux", "amd64", "arm64", "v8",
     *oci.MANIFEST_TYPES, *oci.INDEX_TYPES, *oci.CONFIG_TYPES, *oci.LAYER_COMPRESSION]) | st.text(max_size=5)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), inner, max_size=6),
                    max_leaves=25)


def _descriptor():
    return st.fixed_dictionaries({"mediaType": JSON, "digest": st.just(DIGEST) | JSON, "size": st.just(1) | JSON},
                                 optional={"annotations": JSON, "platform": st.fixed_dictionaries(
                                     {}, optional={"os": JSON, "architecture": JSON, "variant": JSON}) | JSON})


DOCUMENT = st.one_of(
    JSON,
    st.fixed_dictionaries({"schemaVersion": st.just(2) | JSON, "config": _descriptor() | JSON,
                           "layers": st.lists(_descriptor() | JSON, max_size=3) | JSON},
                          optional={"mediaType": JSON, "annotations": JSON}),
    st.fixed_dictionaries({"schemaVersion": st.just(2) | JSON, "manifests": st.lists(_descriptor() | JSON, max_size=3)},
                          optional={"mediaType": JSON}),
    st.fixed_dictionaries({"rootfs": st.fixed_dictionaries({"type": st.just("layers") | JSON,
                                                            "diff_ids": st.lists(st.just(DIGEST) | JSON, max_size=3)})
                           | JSON}, optional={"config": JSON, "os": JSON, "architecture": JSON}),
)


def _exercise(raw: bytes, media_type) -> None:
    for parse in (lambda: oci.Manifest.parse(raw, media_type), lambda: oci.Index.parse(raw, media_type),
                  lambda: oci.ImageConfig.parse(raw)):
        try:
            doc = parse()
        except OWN_ERRORS:
            continue
        if isinstance(doc, oci.Index):
            for want in ("linux/amd64", "linux/arm64", "linux/arm/v7"):
                try:
                    choose_manifest(doc, parse_platform(want))
                except OWN_ERRORS:
                    pass
            for desc in doc.manifests:
                desc.to_json(), desc.annotation(oci.REF_NAME_ANNOTATION), dict(desc.platform)
        elif isinstance(doc, oci.Manifest):
            doc.descriptor(), doc.config.to_json(), [d.to_json() for d in doc.layers]
        else:
            doc.diff_ids, doc.config, doc.descriptor()


@fuzz_settings(share=2)
@given(DOCUMENT, st.none() | st.sampled_from([*oci.MANIFEST_TYPES, *oci.INDEX_TYPES, "text/plain"]))
def test_fuzz_image_documents(doc, media_type):
    _exercise(json.dumps(doc).encode(), media_type)


@fuzz_settings(share=8)
@given(st.binary(max_size=200) | st.sampled_from([b"[" * 100_000, b'{"a":' * 50_000, b"\xff\xfe{}", b"NaN"]))
def test_fuzz_image_documents_from_bytes(raw):
    _exercise(raw, None)


CACHE_RECORD = st.fixed_dictionaries({"key": JSON, "diff_id": st.just("empty") | st.just(DIGEST) | JSON},
                                     optional={"layer": _descriptor() | JSON, "inputs": JSON, "size": JSON,
                                               "created": JSON, "parent": JSON, "position": JSON})


@fuzz_settings(share=8)
@given(st.fixed_dictionaries({"mediaType": st.just(cache_manifest.CONFIG_TYPE) | JSON,
                              "version": st.just(cache_manifest.FORMAT_VERSION) | JSON,
                              "records": st.lists(CACHE_RECORD | JSON, max_size=3) | JSON}) | JSON)
def test_fuzz_cache_configs(doc):
    """A --cache-from source's config (or an image's inline cache): CacheFormatError, which
    the cache sources turn into a warning, or a project error; nothing else."""
    raw = json.dumps(doc).encode()
    try:
        cache_manifest.decode(raw)
    except (cache_manifest.CacheFormatError, *OWN_ERRORS):
        pass
    config = {"rootfs": {"type": "layers", "diff_ids": []}, cache_manifest.INLINE_KEY: doc}
    manifest = oci.Manifest.build(oci.Descriptor(oci.OCI_CONFIG, oci.Digest.of(b"x"), 1), [])
    try:
        cache_manifest.decode_inline(manifest, oci.ImageConfig.build(config))
    except (cache_manifest.CacheFormatError, *OWN_ERRORS):
        pass
