"""Copying an image from one local store to another without copying its bytes twice:
blobs and snapshot files are hard-linked (a copy where links cannot be made). Used when a
fresh store (a `cairn bench` replay) needs a base image the user's store already holds."""

from __future__ import annotations

import os
import shutil
import subprocess

from . import images
from .store import Store, remove_tree


def _link_or_copy(src, dst) -> None:
    tmp = f"{dst}.tmp{os.getpid()}"
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def copy_image(src: Store, dst: Store, image: images.ImageRecord, tags=()) -> images.ImageRecord:
    from ..image import oci

    manifest, config = images.load_documents(src, image)
    with dst.adding():
        for layer in image.layers:
            if dst.has_snapshot(layer.diff_id):
                continue
            if src.has_snapshot(layer.diff_id):
                tmp = dst.new_tmp_dir("copy-")
                os.rmdir(tmp)
                res = subprocess.run(["cp", "-a", "-l", str(src.snapshot_path(layer.diff_id)), str(tmp)],
                                     capture_output=True)
                if res.returncode != 0:
                    remove_tree(tmp)
                    shutil.copytree(src.snapshot_path(layer.diff_id), tmp, symlinks=True)
                dst.commit_snapshot(tmp, layer.diff_id, src.snapshot_size(layer.diff_id) or 0,
                                    src.snapshot_epoch(layer.diff_id))
            for digest, media_type, size in src.layer_blobs(layer.diff_id):
                if not dst.blobs.has(digest):
                    _link_or_copy(src.blobs.path(digest), dst.blobs.path(digest))
                dst.record_layer_blob(layer.diff_id, digest, media_type, size, verified=True)  # checked in src
            desc = layer.descriptor
            if desc.digest != layer.diff_id and src.blobs.has(desc.digest) and not dst.blobs.has(desc.digest):
                _link_or_copy(src.blobs.path(desc.digest), dst.blobs.path(desc.digest))
        return images.add_image(dst, oci.Manifest.parse(manifest.raw, manifest.media_type), config, list(tags))
