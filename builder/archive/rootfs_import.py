"""`cairn import ROOTFS.tar REF`: a one-layer base image from a plain root filesystem tar.

The tar (plain, gzip, zstd, xz or bzip2) is unpacked into a snapshot; the layer is our
deterministic tar of that snapshot, so the same input gives the same image digest in
any store. `created` is SOURCE_DATE_EPOCH when set, otherwise the newest mtime in the
tar, never the wall clock. `-c` applies Dockerfile instructions to the config, as
`docker import --change` does.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import grammar

from ..errors import UsageError
from ..image import config as image_config
from ..image import oci
from ..image.reference import parse_reference
from ..instructions import parse_instruction
from ..layers.compression import open_decompressed
from ..layers.tarstream import TarOptions
from ..store import images
from ..store.materialize import snapshot_from_stream
from ..store.store import Store

CHANGE_KEYWORDS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
                   "VOLUME", "WORKDIR")


def _newest_mtime(root: Path) -> int:
    from runtime.lstat_walk import lstat_walk  # (no recursion per level: a deep rootfs)

    return max((int(st.st_mtime) for _, st in lstat_walk(root)), default=0)


def iso_time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_changes(changes: list[str]):
    commands = []
    for text in changes:
        try:
            tree = grammar.parse(text)
        except grammar.DockerfileError as err:
            raise UsageError(f"--change {text!r}: {err.message}") from None
        for node in tree.instructions:
            if node.keyword.upper() not in CHANGE_KEYWORDS:
                raise UsageError(f"--change {text!r}: {node.keyword.upper()} is not supported "
                                 f"(use one of {', '.join(CHANGE_KEYWORDS)})")
            try:
                commands.append(parse_instruction(node))
            except grammar.DockerfileError as err:
                raise UsageError(f"--change {text!r}: {err.message}") from None
    return commands


def import_rootfs(store: Store, tar_path: str, ref_text: str, changes: list[str] = ()) -> images.ImageRecord:
    ref = parse_reference(ref_text)
    commands = parse_changes(list(changes))
    options = TarOptions.from_env()
    path = Path(tar_path)
    with store.adding():
        stream, _kind = open_decompressed(path)
        with stream:
            diff_id, _size = snapshot_from_stream(store, stream, options)
        epoch = options.source_date_epoch
        created = iso_time(epoch if epoch is not None else _newest_mtime(store.snapshot_path(diff_id)))
        doc: dict = dict(image_config.host_platform())
        doc.update({
            "created": created,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [str(diff_id)]},
            "history": [{"created": created, "created_by": "cairn import",
                         "comment": f"Imported from {path.name}"}],
        })
        env: dict[str, str] = {}
        for cmd in commands:
            image_config.apply(doc, cmd, lambda w: grammar.expand_word(w, env))
            if cmd.keyword == "ENV":
                env = dict(e.partition("=")[::2] for e in doc["config"].get("Env", []))
        config = oci.ImageConfig.build(doc)
        size = store.snapshot_size(diff_id) or 0
        layer = oci.Descriptor(oci.OCI_LAYER, diff_id, size)
        manifest = oci.Manifest.build(config.descriptor(), [layer])
        return images.add_image(store, manifest, config, [ref])
