"""What an ADD source names when it is a git repository, with docker's syntax:

    https://host/repo.git#REF:SUBDIR       (http(s) only when the path ends in .git)
    git://host/repo#REF  ssh://user@host/repo  user@host:repo.git#REF
    https://host/repo.git?ref=R&tag=T&branch=B&subdir=D&checksum=C&keep-git-dir&submodules=false
    https://host/repo.git##ref=R,subdir=D,commit=C

Only network transports are git sources: `file://` and local paths never are (a URL must
not turn into a host path). Refs and subdirectories are checked here, so that nothing
from the Dockerfile can reach git's command line as an option."""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from dataclasses import dataclass

from ..errors import CairnError

SCHEMES = ("http", "https", "git", "ssh")
_SCHEME = re.compile(r"^([A-Za-z0-9]+)://")
_SCP = re.compile(r"^([A-Za-z0-9_.+-]+)@([A-Za-z0-9_.-]+):(.*)$")  # user@host:path
_HOST = re.compile(r"^[A-Za-z0-9_.\[\]:-]+$")
_REF = re.compile(r"^[A-Za-z0-9._/+@=,-]+$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")


class GitRefError(CairnError):
    pass


@dataclass(frozen=True)
class GitRef:
    remote: str  # what git fetches from (no fragment, no query)
    ref: str = ""  # a branch, a tag, refs/..., or a commit; "" is the remote's HEAD
    subdir: str = ""  # relative, normalised; "" is the repository's root
    checksum: str = ""  # a commit hash (or its prefix) the ref must resolve to
    keep_git_dir: bool | None = None
    submodules: bool | None = None


def is_full_commit(text: str) -> bool:
    return len(text) in (40, 64) and bool(_HEX.match(text))


def scheme_of(src: str) -> str | None:
    """The URL scheme of src (lower case), or None for a path or an scp-style address."""
    m = _SCHEME.match(src)
    return m.group(1).lower() if m else None


def parse(src: str) -> GitRef | None:
    """The git repository src names, or None when src is not a git source (a local path, an
    http(s) URL not ending in .git, another scheme). A malformed git source is an error."""
    scheme = scheme_of(src)
    if scheme is not None:
        if scheme not in SCHEMES:
            return None
        try:
            url = urllib.parse.urlsplit(src)
            host = url.hostname or ""
        except ValueError as err:
            raise GitRefError(f"invalid git URL {src!r}: {err}") from None
        if scheme in ("http", "https") and not url.path.endswith(".git"):
            return None
        if not host or host.startswith("-") or not _HOST.match(host):
            raise GitRefError(f"invalid git URL {src!r}: bad host")
        if url.username and url.username.startswith("-"):
            raise GitRefError(f"invalid git URL {src!r}: bad user")
        remote = urllib.parse.urlunsplit((url.scheme, url.netloc, url.path, "", ""))
        fragment, query = url.fragment, url.query
    else:
        m = _SCP.match(src)
        if m is None or m.group(1).startswith("-") or m.group(2).startswith("-"):
            return None
        remote, _, fragment = src.partition("#")
        query = ""
    ref, subdir, checksum = _fragment(fragment)
    result = GitRef(remote, ref, subdir, checksum)
    if query:
        result = _with_query(result, query)
    return _checked(result)


def _fragment(fragment: str) -> tuple[str, str, str]:
    """(ref, subdir, commit) of `REF:SUBDIR`, or of the CSV form `#ref=R,subdir=D,commit=C`."""
    if not fragment.startswith("#"):
        ref, _, subdir = fragment.partition(":")
        return ref, subdir, ""
    fields: dict[str, str] = {}
    for field in filter(None, fragment[1:].split(",")):
        key, eq, value = field.partition("=")
        if not eq:
            raise GitRefError(f"invalid field {field!r} must be a key=value pair")
        if key.lower() not in ("ref", "commit", "subdir"):
            raise GitRefError(f"unexpected key {key!r} in {field!r} (supported keys: ref, commit, subdir)")
        fields[key.lower()] = value
    return fields.get("ref") or fields.get("commit", ""), fields.get("subdir", ""), fields.get("commit", "")


def _bool(key: str, value: str | None) -> bool:
    if value is None:
        return True
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise GitRefError(f"invalid {key} value: {value!r}")


def _with_query(ref: GitRef, query: str) -> GitRef:
    """The query form (BuildKit's): ref, tag, branch, subdir, checksum/commit, keep-git-dir,
    submodules; each at most once; an unknown key is an error."""
    values: dict[str, str | None] = {}
    for part in query.split("&"):
        if not part:
            continue
        raw_key, eq, raw_value = part.partition("=")
        key = urllib.parse.unquote_plus(raw_key)
        value = urllib.parse.unquote_plus(raw_value) if eq else None
        if key in values:
            raise GitRefError(f"query {key!r} has multiple values")
        if not value and key not in ("submodules", "keep-git-dir"):
            raise GitRefError(f"query {key!r} has no value")
        values[key] = value or None
    fields = {"ref": ref.ref, "subdir": ref.subdir, "checksum": ref.checksum,
              "keep_git_dir": ref.keep_git_dir, "submodules": ref.submodules}
    tag = branch = ""
    for key, value in values.items():
        if key == "ref":
            if fields["ref"] and fields["ref"] != value:
                raise GitRefError(f"ref conflicts: {fields['ref']!r} vs {value!r}")
            fields["ref"] = value
        elif key == "tag":
            tag = value if value.startswith("refs/tags/") else "refs/tags/" + value
        elif key == "branch":
            branch = value if value.startswith("refs/heads/") else "refs/heads/" + value
        elif key == "subdir":
            if fields["subdir"] and fields["subdir"] != value:
                raise GitRefError(f"subdir conflicts: {fields['subdir']!r} vs {value!r}")
            fields["subdir"] = value
        elif key in ("checksum", "commit"):
            fields["checksum"] = value
        elif key in ("keep-git-dir", "submodules"):
            fields[key.replace("-", "_")] = _bool(key, value)
        else:
            raise GitRefError(f"unexpected query {key!r}")
    if tag and branch:
        raise GitRefError("branch conflicts with tag")
    for named in (tag, branch):
        if named:
            if fields["ref"] and fields["ref"] != named:
                raise GitRefError(f"ref conflicts: {fields['ref']!r} vs {named!r}")
            fields["ref"] = named
    return GitRef(ref.remote, **fields)


def _checked(ref: GitRef) -> GitRef:
    """The ref and subdir as git may see them: a ref is a plain name (never an option, never
    a revision expression), a subdir stays inside the repository."""
    name = ref.ref
    if name and (any(part.startswith("-") for part in name.split("/")) or not _REF.match(name) or ".." in name
                 or name.endswith((".", "/", ".lock")) or "//" in name):
        raise GitRefError(f"invalid git ref {ref.ref!r}")
    if ref.checksum and not (_HEX.match(ref.checksum) and len(ref.checksum) <= 64):
        raise GitRefError(f"invalid checksum {ref.checksum!r}: expected hex commit hash")
    subdir = ref.subdir
    if subdir:
        if "\0" in subdir:
            raise GitRefError(f"invalid subdir {subdir!r}")
        norm = posixpath.normpath(subdir.lstrip("/"))
        if norm == ".." or norm.startswith("../"):
            raise GitRefError(f"subdir {subdir!r} leaves the repository")
        subdir = "" if norm == "." else norm
    return GitRef(ref.remote, ref.ref, subdir, ref.checksum.lower(), ref.keep_git_dir, ref.submodules)


def for_add(src: str, keep_git_dir: bool, checksum: str) -> GitRef | None:
    """The git source of an ADD, its --keep-git-dir and --checksum merged in (BuildKit: a
    checksum in both places must agree)."""
    ref = parse(src)
    if ref is None:
        return None
    if checksum:
        if not (_HEX.match(checksum) and len(checksum) <= 64):
            raise GitRefError(f"invalid checksum {checksum!r}: expected hex commit hash")
        if ref.checksum and ref.checksum != checksum.lower():
            raise GitRefError(f"checksum mismatch {checksum!r} != {ref.checksum!r}")
        ref = GitRef(ref.remote, ref.ref, ref.subdir, checksum.lower(), ref.keep_git_dir, ref.submodules)
    if ref.keep_git_dir is None:
        ref = GitRef(ref.remote, ref.ref, ref.subdir, ref.checksum, keep_git_dir, ref.submodules)
    return ref
