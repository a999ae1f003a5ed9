"""`--cache-to`: a build's cache records, with their layers, to a registry or a directory.

- mode=min: the records of the steps whose layers make up the exported image (the target
  stage and the stages it is built FROM), and, key-only (no layer), those of the other
  stages built, which the image copies from: as BuildKit's min mode exports its
  dependencies' keys, so that an importer finds the image's `COPY --from` steps without
  running those stages. mode=max: every step of every stage built, with its layer.
  A step that was itself a key-only hit is exported key-only in either mode.
- registry: the layers go to the cache repository first (HEAD, cross-repo mount, or
  upload; compressed as for a push), then the manifest. The export merges with what is at
  the ref: read, merge, write, then read again; if a concurrent export replaced ours and
  some of our records are missing, merge and write again (bounded).
- local: an OCI layout directory (blobs hard-linked or copied from the store), merged the
  same way under an flock, index.json replaced atomically.
- cache-mounts=true: the build's cache mounts go too, each as one more layer
  (mount_pack.py, mount_records.py), merged by id with those already there.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import random
import shutil
import time
from pathlib import Path

from runtime.tree import Tree, remove

from ..atomic_file import write_atomically
from ..errors import CairnError
from ..image import oci
from ..image.digest import Digest
from ..store import cache_table
from ..store.cache_table import EMPTY
from ..store.store import Store
from .manifest import CacheFormatError, CacheRecord, decode, encode, is_cache_manifest, merge
from .mount_records import decode_mounts, merge_mounts
from .specs import CacheSpec

MERGE_ATTEMPTS = 6


class CacheExportError(CairnError):
    pass


def chosen_steps(steps: list, mode: str, image_stages: set[str]) -> list:
    """The steps (executor.result.StepRecord) whose records a cache of `mode` exports."""
    keyed = [s for s in steps if s.key]
    if mode == "max":
        return keyed
    return [s for s in keyed if s.stage in image_stages]


def local_rows(store: Store, steps: list) -> list[dict]:
    rows = []
    for step in steps:
        row = cache_table.get(store, step.key)
        if row is None or row.diff_id is None:
            continue
        rows.append({"key": row.key, "parent": row.parent, "inputs": json.loads(row.inputs), "diff_id": row.diff_id,
                     "size": row.size, "created": row.created, "position": step.position})
    return rows


def records_with_layers(rows: list[dict], blobs: dict[str, oci.Descriptor]) -> list[CacheRecord]:
    return [CacheRecord(r["key"], r["parent"], keyonly_inputs(r["inputs"]) if r.get("keyonly") else r["inputs"],
                        r["diff_id"], r["size"], r["position"], r["created"],
                        None if r.get("keyonly") else blobs.get(r["diff_id"])) for r in rows]


def keyonly_inputs(inputs: dict) -> dict:
    """What a key-only record keeps of its key's inputs: for a `COPY --from` of a stage, what
    finds it without the stage's bytes (stage_sources.py); nothing else of a stage that the
    image does not contain (its commands and files stay out of a mode=min cache)."""
    step = inputs.get("step") or {}
    if "from_layers" not in inputs or not isinstance(step, dict):
        return {}
    return {"from_layers": inputs["from_layers"],
            "step": {name: step[name] for name in ("paths", "chmod", "sources") if name in step}}


def export(store: Store, spec: CacheSpec, steps: list, image_stages: set[str], registry_options=None,
           log=lambda line: None, keyonly_hits: dict | None = None, used_mounts=None, warn=None) -> int:
    """Export; returns how many records were written (ours, before merging). `keyonly_hits`:
    the records (CacheRecord by key) of the steps that hit a key-only record of a source;
    `used_mounts` (mount_pack.UsedMounts): the cache mounts to export with cache-mounts=true."""
    if not (spec.cache_mounts and used_mounts is not None and used_mounts.by_id):
        return _export(store, spec, steps, image_stages, registry_options, log, keyonly_hits, [])
    from .mount_pack import pack

    scratch = store.new_tmp_dir("cache-mounts-export-")
    try:
        mounts = pack(store, used_mounts, spec.mounts_limit, spec.compression, scratch, warn or log)
        return _export(store, spec, steps, image_stages, registry_options, log, keyonly_hits, mounts)
    finally:
        with Tree(scratch.parent) as t:
            remove(t.fd, scratch.name)


def _export(store: Store, spec: CacheSpec, steps: list, image_stages: set[str], registry_options, log,
            keyonly_hits: dict | None, mounts: list) -> int:
    keyonly_hits = keyonly_hits or {}
    rows = [r for r in local_rows(store, chosen_steps(steps, spec.mode, image_stages)) if r["key"] not in keyonly_hits]
    if spec.mode == "min":
        taken = {r["key"] for r in rows}
        rows += [{**r, "keyonly": True} for r in local_rows(store, [s for s in steps if s.key])
                 if r["key"] not in taken and r["key"] not in keyonly_hits]
    rows += [{"key": h.key, "parent": h.parent, "inputs": h.inputs, "diff_id": h.diff_id, "size": h.size,
              "created": h.created, "position": h.position, "keyonly": True} for h in keyonly_hits.values()]
    diff_ids = sorted({r["diff_id"] for r in rows if r["diff_id"] != EMPTY and not r.get("keyonly")})
    if spec.type == "registry":
        _to_registry(store, spec, rows, diff_ids, registry_options, log, mounts)
    elif spec.type == "local":
        _to_local(store, spec, rows, diff_ids, registry_options, mounts)
    return len(rows)


# -- registry ----------------------------------------------------------------------------

def _read_registry(client, ref) -> tuple[list[CacheRecord], list]:
    """The records and the cache mounts at the ref (none when it holds no readable cache)."""
    from ..registry.errors import NotFoundError

    try:
        fetched = client.get_manifest(ref.path, ref.tag or "latest")
    except NotFoundError:
        return [], []
    try:
        manifest = oci.Manifest.parse(fetched.raw, fetched.media_type)
        if not is_cache_manifest(manifest):
            raise CacheExportError(f"{ref.familiar} holds something other than a cairn cache; not overwriting it")
        config = client.read_blob(ref.path, manifest.config)
        return decode(config), decode_mounts(config)
    except (CacheFormatError, oci.ImageFormatError):
        return [], []  # unreadable: replaced by ours (the import side warned about it)


def _exported(log, ref_name: str, ours: list, mounts: list) -> None:
    log(f"exported {len(ours)} cache records" + (f" and {len(mounts)} cache mounts" if mounts else "")
        + f" to {ref_name}")


def _to_registry(store: Store, spec: CacheSpec, rows, diff_ids, registry_options, log, mounts) -> None:
    from ..registry.client import RegistryClient
    from ..registry.push import BlobSender
    from ..store.blob_locations import record_locations

    ref = spec.ref
    sizes = {r["diff_id"]: r["size"] for r in rows}
    with RegistryClient(ref.domain, registry_options, push_to=ref.path) as client, store.adding():
        sender = BlobSender(store, client, ref, spec.compression, registry_options)
        layers = [(Digest.parse(d), oci.Descriptor(oci.OCI_LAYER, Digest.parse(d), sizes[d])) for d in diff_ids]
        sent = sender.send_all([], layers)
        blobs = {d: desc for d, desc in zip(diff_ids, sent)}
        ours = records_with_layers(rows, blobs)
        for packed in mounts:
            client.upload_blob(ref.path, packed.record.layer.digest, packed.record.layer.size,
                               lambda path=packed.path: open(path, "rb"))
        our_mounts = [p.record for p in mounts]
        for attempt in range(MERGE_ATTEMPTS):
            existing, existing_mounts = _read_registry(client, ref)
            config, manifest = encode(merge(existing, ours), spec.oci_mediatypes,
                                      merge_mounts(existing_mounts, our_mounts))
            client.upload_blob(ref.path, manifest.config.digest, len(config), lambda: io.BytesIO(config))
            client.put_manifest(ref.path, ref.tag or "latest", manifest.raw, manifest.media_type)
            time.sleep(random.uniform(0.05, 0.25))  # let a concurrent export land, then check ours survived
            present = {r.key for r in _read_registry(client, ref)[0]}
            if all(r.key in present for r in ours):
                record_locations(store, ref.repository, [d.digest for d in sent])
                _exported(log, ref.familiar, ours, mounts)
                return
        raise CacheExportError(f"{ref.familiar}: concurrent exports kept replacing ours ({MERGE_ATTEMPTS} tries)")


# -- local directory ---------------------------------------------------------------------

def _blob_for_export(store: Store, diff_id: Digest, size: int, compression: str, registry_options) -> oci.Descriptor:
    from ..image.layer import Layer
    from ..registry.layer_sources import ensure_blob_local
    from ..registry.push import _held_blob
    from ..store.blob_locations import remote_layer
    from ..store.materialize import ensure_blob

    held = _held_blob(store, Layer(diff_id, oci.Descriptor(oci.OCI_LAYER, diff_id, size)), compression)
    if held is not None:
        return held
    remote = remote_layer(store, diff_id)
    if remote is not None and not store.has_snapshot(diff_id):
        ensure_blob_local(store, remote, registry_options, diff_id)
        return remote
    return ensure_blob(store, diff_id, compression).descriptor()


def _place(src: Path, dest: Path) -> None:
    if dest.exists():
        return
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def _write_bytes(layout: Path, data: bytes) -> Digest:
    digest = Digest.of(data)
    dest = layout / "blobs" / "sha256" / digest.hex
    if not dest.exists():
        write_atomically(dest, lambda f: f.write(data))
    return digest


def _to_local(store: Store, spec: CacheSpec, rows, diff_ids, registry_options, mounts) -> None:
    from .remote import load_local_config

    layout = Path(spec.path)
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    sizes = {r["diff_id"]: r["size"] for r in rows}
    blobs = {}
    for d in diff_ids:
        desc = _blob_for_export(store, Digest.parse(d), sizes[d], spec.compression, registry_options)
        _place(store.blobs.path(desc.digest), layout / "blobs" / "sha256" / desc.digest.hex)
        blobs[d] = desc
    for packed in mounts:
        _place(packed.path, layout / "blobs" / "sha256" / packed.record.layer.digest.hex)
    ours = records_with_layers(rows, blobs)
    lock_fd = os.open(layout / ".cairn-cache.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            existing_config = load_local_config(layout, spec.tag)
            existing, existing_mounts = decode(existing_config), decode_mounts(existing_config)
        except (CairnError, CacheFormatError, OSError):
            existing, existing_mounts = [], []
        config, manifest = encode(merge(existing, ours), spec.oci_mediatypes,
                                  merge_mounts(existing_mounts, [p.record for p in mounts]))
        _write_bytes(layout, config)
        _write_bytes(layout, manifest.raw)
        (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        index_path = layout / "index.json"
        entries = []
        if index_path.exists():
            try:
                entries = [d for d in oci.Index.parse(index_path.read_bytes()).manifests
                           if d.annotation(oci.REF_NAME_ANNOTATION) != spec.tag]
            except oci.ImageFormatError:
                entries = []
        entries.append(manifest.descriptor(**{oci.REF_NAME_ANNOTATION: spec.tag}))
        write_atomically(index_path, lambda f: f.write(oci.Index.build(entries).raw))
    finally:
        os.close(lock_fd)
