"""The whole-build memo (issue 17): a rebuild whose every step hit is answered from one
record (store/build_memo_table.py), without parsing the Dockerfile or loading the
instructions, checks and executor; build_replay.py replays what the build printed and did.

The record is made at the end of a build in which every step hit the local cache or was
built (recorded then as the rebuild whose steps all hit: build_replay.all_cached), and is
used only when the next build's inputs are the same, told without a parse:
- the key: the Dockerfile's bytes (as read: the file, -f, stdin), every build option but
  those that only shape the output (--progress, but for whether it is json, whose events
  carry image IDs; -q, --iidfile, --metadata-file), a `--build-arg NAME`'s value from the
  environment, SOURCE_DATE_EPOCH, CAIRN_SUBNET with an --add-host of host-gateway, the
  global options, the host's machine, the store layout, Python's version and the code of
  cairn itself (its files' stat);
- the .dockerignore's bytes (the one the build reads: <Dockerfile>.dockerignore or the
  context's) and the context, by a stat walk of all that it keeps (not only what the steps
  read: an edit of a kept file no step reads makes a miss too; of an ignored one, a hit):
  every entry's path, type and mode, size,
  mtime, ctime, inode and link target (fingerprint.py). A context with an entry (or a
  .dockerignore) changed less than fingerprint.RACY_NS (fs_clock.FINE_NS on a local
  sub-second filesystem) before the walk is not answered, and recorded only at the build's end
  when late_vouch.py can vouch for each such entry then;
- every image the build took from the store (FROM, COPY --from, RUN --mount from=,
  ONBUILD's), re-resolved by name in the store to the same manifest;
- the records the build hit (its steps with no key, ENV, CMD..., made no layer), each
  still there with its layer, made at the same time (a --no-cache build remakes a COPY's
  layer, the same bytes at a new time, that a cached rebuild's history takes), and that
  layer's snapshot, and the image itself with its manifest and config blobs (rmi, cache
  prune, a lost file: a miss).
Never a memo (a normal build) for --no-cache(-filter), --pull, --push, -o, --cache-from/-to,
--build-context, --call/--check, --ssh, RUN resource limits, a remote or stdin-tar context,
a `# syntax=` line, a SOURCE_DATE_EPOCH that may name a stage (fetched from a URL), an ADD of
a git repository or of a URL without --checksum (its key comes from the network), a build
that pulled an image, a context of over fingerprint.TREE_ENTRIES entries (the
walk's time and memory would grow with it: a large context is built as without the memo),
or with CAIRN_BUILD_MEMO=0 in the environment (what the tests compare against). A --secret is checked as the build checks it (file, variable).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

from ..errors import CairnError
from ..image.digest import Digest
from . import fingerprint

VERSION = "cairn-build-memo-v2"  # v2: each hit with its layer's time
SWITCH = "CAIRN_BUILD_MEMO"
OUTPUT_ONLY = ("progress", "quiet", "iidfile", "metadata_file", "load")
REFUSING = ("outputs", "push", "cache_from", "cache_to", "no_cache", "no_cache_filter", "pull", "build_contexts",
            "call_spec", "check", "ssh", "shm_size", "ulimits", "cgroup_parent", "memory", "memory_swap", "cpu_quota",
            "cpu_period")
_EPOCH = "SOURCE_DATE_EPOCH"  # (a stage's name as its value: the epoch is fetched from a URL by each build)
_CODE = ("builder", "grammar", "runtime")


def applies(params: dict, context: str) -> bool:
    """Whether a build with these options may be answered or recorded at all (no I/O but a stat)."""
    if os.environ.get(SWITCH) == "0" or any(params.get(name) for name in REFUSING):
        return False
    epochs = [os.environ.get(_EPOCH)] + [a.partition("=")[2] if "=" in a else os.environ.get(_EPOCH)
                                           for a in params.get("build_args") or () if a.partition("=")[0] == _EPOCH]
    if any(value and not value.isdigit() for value in epochs):
        return False
    return context != "-" and os.geteuid() == 0 and os.path.isdir(context)


class Memo:
    """One build's memo: its key, place and context fingerprint; `record`: the memo found for
    them (None: the build runs, and may be recorded with `remember`)."""

    def __init__(self, store, place: str, key: str, context_print: str | None):
        self.store, self.place, self.key, self.context_print = store, place, key, context_print
        self.record: dict | None = None
        self.unvouched: tuple | None = None  # (entries, walk started, root, print) of a walk too recent to vouch for
        self.tree: fingerprint.TreeWalk | None = None  # the walk, for the build's steps (fingerprint.sharing)


def open_memo(store, ctx, params: dict, context: str, path: str, raw: bytes) -> Memo | None:
    """The memo of this build (with its record when one is found that still holds), or None
    when nothing about it can be keyed."""
    from ..store import build_memo_table

    if _directs_syntax(raw) or (b"SOURCE_DATE_EPOCH" in raw and re.search(rb"SOURCE_DATE_EPOCH[ \t]*=", raw)):
        return None
    from ..context.build_context import BuildContext, ignore_file

    real = os.path.realpath(context)
    try:
        walk_started = time.time_ns()
        ignore = ignore_file(real, None if path == "-" else path)
        key = _key(ctx, params, real, path, raw, ignore)
        tree = fingerprint.walk_tree(BuildContext.with_ignore_file(real, ignore))
        entries = tree.entries + _ignore_stats(real, path)
    except fingerprint.ContextChanged:
        raise  # (a directory replaced mid-walk: the build fails, as its own walk would)
    except (OSError, ValueError, CairnError):
        return None
    printed = _sha256(fingerprint.entries_bytes(entries))
    vouched = fingerprint.vouched(entries, walk_started, real)
    memo = Memo(store, _place(real, path, params.get("target")), key, printed if vouched else None)
    memo.tree = tree
    if not vouched:
        memo.unvouched = (entries, walk_started, real, printed)
        return memo
    text = build_memo_table.get(store, memo.place, key)
    if text is not None:
        record = json.loads(text)
        if record["context"] == printed and _holds(store, record):
            memo.record = record
    return memo


def _directs_syntax(raw: bytes) -> bool:
    """Whether the comment lines at the Dockerfile's top (where parser directives are) name a
    `syntax` (a frontend cairn does not run: never answered from a memo)."""
    for line in raw.splitlines():
        text = line.strip()
        if text and not text.startswith(b"#"):
            return False
        if text[1:].lstrip().lower().startswith(b"syntax"):
            return True
    return False


def remember(memo: Memo, result, tags: list, events: list, started: float, history: tuple) -> None:
    """Record a build that just ended, when each of its steps hit the local cache or was built
    (then as the rebuild in which it hits: build_replay.all_cached) and each image it named
    came from the store as it was."""
    from ..store import build_memo_table
    from ..store.cache_table import EMPTY

    from .build_replay import all_cached

    steps = result.steps
    if (memo.context_print is None and memo.unvouched is None) or result.bases is None or result.bases.fetched:
        return
    hits = [s for s in steps if s.key is not None]
    if any(s.cached and s.cache_source != "local" for s in hits) or \
            any(s.diff_id is not None for s in steps if s.key is None):
        return  # (a step came from elsewhere, or made a layer uncached)
    if any(s.kind == "ADD" and _fetches(memo.store, s.key) for s in hits):
        return
    if any(s.diff_id not in (None, EMPTY) and s.created is None for s in hits):
        return  # (a layer of no known time: its history entry took this build's time)
    metadata = result.metadata()
    if not all(s.cached for s in hits):  # a miss: what the rebuild whose every step hits does
        cached = all_cached(events, steps, metadata)
        if cached is None:
            return
        events, metadata = cached
    if memo.context_print is None:  # (a context changed just before the build: vouched for now, or never)
        from .late_vouch import vouch_late

        entries, walk_started, root, printed = memo.unvouched
        if not vouch_late(entries, walk_started, root, result.racy_reads or {}):
            return
        memo.context_print = printed
    record = {
        "context": memo.context_print,
        "bases": [[text, _tag_of(text), manifest] for text, manifest in sorted(result.bases.local.items())],
        "hits": [[s.key, s.diff_id or EMPTY, s.created] for s in hits],
        "manifest": str(result.image.manifest),
        "config": str(result.image.config),
        "tags": [str(t) for t in tags],
        "events": events,
        "metadata": metadata,
        "started": started,
        "history": list(history),
    }
    try:
        text = json.dumps(record)
    except (TypeError, ValueError):  # (an event that is not plain data: no record)
        return
    build_memo_table.put(memo.store, memo.place, memo.key, text)


def _fetches(store, key: str) -> bool:
    """Whether an ADD step's key came from the network (a git source, resolved to a commit by
    asking its remote each build); a URL is keyed only with its --checksum."""
    from ..store import cache_table

    row = cache_table.get(store, key)
    return row is None or "git" in (json.loads(row.inputs or "{}").get("step") or {})


def capture(progress) -> list:
    """Record every event `progress` is given (in order) for a replay: [method, args]."""
    events: list = []

    def wrap(name):
        method = getattr(progress, name)

        def recorded(*args, **kwargs):
            events.append([name, list(args), kwargs])
            return method(*args, **kwargs)
        return recorded

    from .build_replay import EVENTS

    for name in EVENTS:
        setattr(progress, name, wrap(name))
    return events


def _tag_of(text: str) -> str | None:
    """The tags-table name an image's name resolves by, or None when the store's resolve must
    answer (an ID or what may be one, a digest)."""
    from ..image.reference import ReferenceError, parse_reference

    bare = text.removeprefix("sha256:")
    if len(bare) >= 4 and all(c in "0123456789abcdef" for c in bare):
        return None  # (images.resolve tries an ID prefix first)
    try:
        ref = parse_reference(text)
    except ReferenceError:
        return None
    return None if ref.digest is not None else str(ref)


def _holds(store, record: dict) -> bool:
    """Whether what the record names is still what a build would find: each image by the same
    name, each hit's record with its layer, and the image."""
    from ..store import build_memo_table

    for text, tag, manifest in record["bases"]:
        if tag is not None:  # (a tag: one query, without the reference parser)
            if build_memo_table.tag_manifest(store, tag) != manifest:
                return False
            continue
        from ..store import images

        try:
            if str(images.resolve(store, text).manifest) != manifest:
                return False
        except Exception:  # (no such image, an ambiguous ID...: the build says what it is)
            return False
    return build_memo_table.image_held(store, record["manifest"], record["config"]) and \
        build_memo_table.hits_hold(store, record["hits"])


def _place(real: str, path: str, target) -> str:
    where = os.path.abspath(path) if path != "-" else "-"
    return _sha256(json.dumps([real, where, target]).encode())


def _ignore_stats(real: str, path: str) -> list:
    """The stat of each .dockerignore the build may read (for the racy-clean window: one that
    ignores itself is not in the walk)."""
    out = []
    # (the Dockerfile's in full: a path relative to the working directory would be joined to
    # the context's root by fingerprint.vouched and late_vouch, naming another file)
    for cand in ([os.path.abspath(path) + ".dockerignore"] if path != "-" else []) + \
            [os.path.join(real, ".dockerignore")]:
        try:
            st = os.stat(cand)
        except FileNotFoundError:
            continue
        out.append((cand, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode))
    return out


def _key(ctx, params: dict, real: str, path: str, raw: bytes, ignore: bytes | None) -> str:
    from ..store.db import LAYOUT_VERSION

    options = {k: v for k, v in params.items() if k not in OUTPUT_ONLY}
    from_env = {a: os.environ.get(a) for a in params.get("build_args") or () if "=" not in a}
    ignores = _sha256(ignore) if ignore is not None else None
    ids = params.get("progress") == "json" and not params.get("quiet")  # (json's events carry image IDs)
    # (--add-host NAME:host-gateway is the bridge's address, from CAIRN_SUBNET: containers/ipam.bridge_config)
    gateway = any("host-gateway" in h for h in params.get("add_hosts") or ())
    subnet = os.environ.get("CAIRN_SUBNET") if gateway else None
    head = [VERSION, LAYOUT_VERSION, _code_print(), sys.version, os.uname().machine, real, path, os.path.abspath(path),
            options, from_env, os.environ.get("SOURCE_DATE_EPOCH"), ctx.find_root().params, ignores, ids, subnet]
    return _sha256(json.dumps(head, sort_keys=True, default=repr).encode() + raw)


def _sha256(data: bytes) -> str:
    """Hex sha256 (Digest.of: a key text is small, and the builtin sha256 spares a memo hit
    OpenSSL's hashlib, ~3 ms of its start)."""
    return Digest.of(data).hex


def _code_print() -> list:
    """cairn's own code, told by its files' stat (its sources, and the grammar they read): an
    upgrade or an edit is a miss. Code changed since this process loaded it (a daemon's
    zygote forks builds from what it loaded at its start) is refused (ValueError): its
    records would answer for code it does not run."""
    import builder

    from .fs_clock import fine

    base = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    loaded = builder.LOADED_NS - fingerprint.RACY_NS
    out = []
    for package in _CODE:
        stack = [os.path.join(base, package)]
        while stack:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    if e.name.startswith("."):  # (an editor's swap file: not code)
                        continue
                    if e.is_file(follow_symlinks=False):
                        st = e.stat(follow_symlinks=False)
                        entry = (e.path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                        # (changed a moment before the load: loaded as it is, when its times tell so)
                        if st.st_ctime_ns >= loaded and not fine(entry, builder.LOADED_NS, e.path):
                            raise ValueError(f"{e.path} changed since cairn loaded it")
                        out.append(entry)
                    elif e.is_dir(follow_symlinks=False) and e.name != "__pycache__":
                        stack.append(e.path)
    return sorted(out)
