"""Platforms (`os/arch[/variant]`) as docker writes and normalises them, the host's own, the
automatic platform ARGs, and whether a platform's programs can run on this host.

cairn has no emulation: a stage whose platform is not the host's may still be built from
COPY, ADD and metadata steps (cross-building: `FROM --platform=$BUILDPLATFORM` for the
steps that run, their output copied into a `$TARGETPLATFORM` stage), but a RUN step in it is
refused before any step runs."""

from __future__ import annotations

from .errors import UsageError
from .image.config import host_platform

Platform = dict  # {"os": ..., "architecture": ..., "variant"?: ...}, as an image config holds it

_ARCH = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm",
         "i386": "386", "i686": "386"}
_DEFAULT_VARIANT = {"armhf": "v7", "armel": "v6"}


def host() -> Platform:
    return dict(host_platform())


def parse(text: str, what: str = "--platform") -> Platform:
    """`linux/arm64`, `linux/arm/v7`, `linux/x86_64`, `local` (the host's) to a platform."""
    text = text.strip()
    if text == "local":
        return host()
    parts = text.lower().split("/")
    if len(parts) not in (2, 3) or not all(p and p.replace("_", "").replace("-", "").isalnum() for p in parts):
        raise UsageError(f"invalid {what} {text!r}: expected OS/ARCH[/VARIANT], such as linux/amd64 or linux/arm/v7")
    os_, arch = parts[0], _ARCH.get(parts[1], parts[1])
    variant = parts[2] if len(parts) == 3 else _DEFAULT_VARIANT.get(parts[1], "")
    if arch == "arm64" and variant == "v8":
        variant = ""  # containerd's normal form: linux/arm64
    if arch == "arm" and not variant:
        variant = "v7"
    if arch == "amd64" and variant == "v1":
        variant = ""
    out = {"os": os_, "architecture": arch}
    if variant:
        out["variant"] = variant
    return out


def parse_target(value: str) -> str:
    """`build --platform`: one platform, normalised (`linux/x86_64` -> `linux/amd64`). Several
    at once (a multi-platform index) would need a build per platform: refused."""
    wanted = [v for v in value.split(",") if v.strip()]
    if len(wanted) > 1:
        raise UsageError(f"--platform {value!r}: cairn builds one platform at a time; "
                         "run one build per platform")
    return text(parse(wanted[0] if wanted else value))


def text(p: Platform) -> str:
    return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)


def same(a: Platform, b: Platform) -> bool:
    return text(a) == text(b)


def runs_here(p: Platform) -> bool:
    """Can this host run the platform's programs without emulation?"""
    return same(p, host())


def of_config(doc: dict) -> Platform:
    """The platform an image config declares (missing fields read as the host's)."""
    h = host()
    out = {"os": doc.get("os") or h["os"], "architecture": doc.get("architecture") or h["architecture"]}
    if doc.get("variant"):
        out["variant"] = doc["variant"]
    try:
        return parse(text(out), "image platform")
    except UsageError:
        return out


def args(target: Platform, build: Platform) -> dict[str, str]:
    """TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT and the BUILD* four."""
    out = {}
    for prefix, p in (("TARGET", target), ("BUILD", build)):
        out.update({f"{prefix}PLATFORM": text(p), f"{prefix}OS": p["os"], f"{prefix}ARCH": p["architecture"],
                    f"{prefix}VARIANT": p.get("variant", "")})
    return out


def refusal(needed: Platform, what: str) -> str:
    """Why a step that runs a program cannot run for `needed`, and what to do instead."""
    return (f"{what} needs {text(needed)}, but this host runs {text(host())} and cairn does not emulate other "
            f"platforms. Hint: run the stage on the build platform (FROM --platform=$BUILDPLATFORM ...) and "
            f"cross-compile for $TARGETPLATFORM, or build on a {text(needed)} host")
