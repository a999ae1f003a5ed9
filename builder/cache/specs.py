"""`--cache-to` / `--cache-from` values, parsed and checked: `type=registry,ref=REF,mode=max`,
`type=local,dest=DIR`, `type=local,src=DIR`, `type=inline`, or a bare REF (registry).

`oci-mediatypes` and `image-manifest` take Go's boolean words, as buildx does (default
true; `oci-mediatypes=false` alone turns `image-manifest` off too). cairn's cache is always
one OCI image manifest whose config is the cache (what `image-manifest=true` asks for, and
BuildKit's default since v0.21): the index form BuildKit wrote before that holds blobs that
are not manifests, which only BuildKit reads and some registries refuse. So
`oci-mediatypes=false` writes that manifest with Docker's media types, and
`image-manifest=false` is accepted and changes nothing.

`cache-mounts=true` (registry and local) also exports the build's RUN --mount=type=cache
directories as layers of the cache (cache/mount_pack.py); `--cache-from` restores them on a
runner that lacks them unless it says `cache-mounts=false`. `cache-mounts-limit=SIZE`
(default 1g) bounds each mount's tar: a larger one is not exported, and not restored."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from ..image.reference import Reference, ReferenceError, parse_reference
from ..units import ram_in_bytes

_TYPES = ("registry", "local", "inline")
MOUNTS_LIMIT = 1 << 30  # bytes of tar per cache mount, exported or restored (cache-mounts-limit)


@dataclass(frozen=True)
class CacheSpec:
    type: str                       # registry | local | inline
    ref: Reference | None = None    # registry
    path: str | None = None         # local: dest (export) or src (import)
    mode: str = "min"               # export: min (the image's steps) or max (every step built)
    compression: str = "zstd"
    tag: str = "latest"             # local: the name of the cache in the layout's index
    ignore_error: bool = True       # export: a failure is a warning (false: the build fails)
    oci_mediatypes: bool = True     # export: OCI media types (false: Docker's schema 2 ones)
    cache_mounts: bool = False      # export: the cache mounts too (import: restore them; default true)
    mounts_limit: int = MOUNTS_LIMIT

    def describe(self) -> str:
        if self.type == "registry":
            return self.ref.familiar if self.ref else "registry"
        if self.type == "local":
            return f"local:{self.path}"
        return "inline"


def parse_spec(text: str, export: bool) -> CacheSpec:
    flag = "--cache-to" if export else "--cache-from"
    if "=" not in text:
        fields = {"type": "registry", "ref": text}
    else:
        fields = {}
        for part in text.split(","):
            name, sep, value = part.partition("=")
            if not sep or not name:
                raise UsageError(f"invalid {flag} {text!r}: expected KEY=VALUE fields separated by commas")
            fields[name.strip().lower()] = value.strip()
    kind = fields.pop("type", "registry" if "ref" in fields else "")
    if kind not in _TYPES:
        raise UsageError(f"invalid {flag} {text!r}: type must be one of {', '.join(_TYPES)}")
    mode = fields.pop("mode", "min")
    if mode not in ("min", "max"):
        raise UsageError(f"invalid {flag} {text!r}: mode must be min or max")
    compression = fields.pop("compression", "zstd")
    if compression not in ("zstd", "gzip", "uncompressed", "none"):
        raise UsageError(f"invalid {flag} {text!r}: compression must be zstd or gzip")
    compression = "none" if compression == "uncompressed" else compression
    ignore = fields.pop("ignore-error", "true").lower()
    if ignore not in ("true", "false"):
        raise UsageError(f"invalid {flag} {text!r}: ignore-error must be true or false")
    spec = dict(type=kind, mode=mode, compression=compression, ignore_error=ignore == "true")
    if kind == "registry":
        ref_text = fields.pop("ref", "")
        if not ref_text:
            raise UsageError(f"invalid {flag} {text!r}: type=registry needs ref=REF")
        try:
            ref = parse_reference(ref_text)
        except ReferenceError as err:
            raise UsageError(f"invalid {flag} {text!r}: {err}") from None
        if ref.digest is not None and export:
            raise UsageError(f"invalid {flag} {text!r}: the ref must be a tag, not a digest")
        spec["ref"] = ref
    elif kind == "local":
        key = "dest" if export else "src"
        path = fields.pop(key, "")
        if not path:
            raise UsageError(f"invalid {flag} {text!r}: type=local needs {key}=DIR")
        spec["path"] = path
        spec["tag"] = fields.pop("tag", "latest")
    if kind == "inline" and not export:
        raise UsageError(f"invalid {flag} {text!r}: to use an inline cache, give the image: type=registry,ref=IMAGE")
    oci_types = _boolean(fields.pop("oci-mediatypes", "true"), "oci-mediatypes", flag, text)
    if not oci_types and _boolean(fields.pop("image-manifest", "false"), "image-manifest", flag, text):
        raise UsageError(f"invalid {flag} {text!r}: image-manifest=true needs oci-mediatypes=true")
    _boolean(fields.pop("image-manifest", "true"), "image-manifest", flag, text)
    spec["oci_mediatypes"] = oci_types
    spec["cache_mounts"] = _boolean(fields.pop("cache-mounts", "false" if export else "true"), "cache-mounts",
                                    flag, text)
    if spec["cache_mounts"] and kind == "inline":
        raise UsageError(f"invalid {flag} {text!r}: an inline cache rides in the image's config and cannot carry "
                         "cache mounts (use type=registry or type=local)")
    if "cache-mounts-limit" in fields:
        try:
            spec["mounts_limit"] = ram_in_bytes(fields.pop("cache-mounts-limit"))
        except ValueError:
            raise UsageError(f"invalid {flag} {text!r}: cache-mounts-limit must be a size like 500m or 2g") from None
    if fields:
        raise UsageError(f"invalid {flag} {text!r}: unknown field {sorted(fields)[0]!r}")
    return CacheSpec(**spec)


_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _boolean(value: str, name: str, flag: str, text: str) -> bool:
    """Go's strconv.ParseBool words, which buildx's cache options take."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"invalid {flag} {text!r}: {name} must be true or false")
