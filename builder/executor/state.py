"""The state a stage carries from step to step: its layers, image config and ARG/ENV scope."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field

from ..args import StageScope
from ..store.store import Store
from .epoch import iso


class KeyOnlyLayers(Exception):
    """A step needs the bytes of a stage whose layers came from key-only cache records and
    are held nowhere: the build starts again without key-only hits (build.py). Not a
    CairnError, so that no step reports it as its failure."""


@dataclass
class StageState:
    """What a stage has built so far (a docstring: dataclass would ask inspect for one)."""

    store: Store
    layers: list = field(default_factory=list)  # list[Layer], bottom first
    doc: dict = field(default_factory=dict)  # the image config document being built
    scope: StageScope | None = None
    cmd_set: bool = False  # CMD given in this stage (an ENTRYPOINT clears an inherited CMD)
    secrets: tuple = ()  # (id, host path) pairs from --secret
    ssh: tuple = ()  # SshSources from --ssh
    fs_key: str = "scratch"  # cache key of the filesystem so far (base ChainID, then each layer step)
    bases: object = None  # BaseImages: what COPY --from / RUN --mount from an image resolve through
    epoch: int | None = None  # SOURCE_DATE_EPOCH: the time of new history entries and the layers' mtime limit
    run_resources: object = None  # RunResources of the build's flags (--ulimit, --shm-size...), for RUN
    mount_restore: object = None  # cache/mount_restore.MountRestore: cache mounts from --cache-from
    contexts: object = None  # NamedContexts: what --build-context NAME stands for
    sandbox: object = None  # executor.sandbox.Sandbox: the build's settings of every RUN step
    git_commits: dict = field(default_factory=dict)  # GitRef -> the commit an ADD's key resolved it to
    base: str = ""  # the ID (config digest) of the stage's base image (kept beside keys, for explanations)
    stat_cache: object = None  # the build's cache.sources.StatCache (an incremental COPY reads its hashes)
    position: str = ""  # the step being run, as cache records name it (an incremental COPY's earlier snapshot)

    @property
    def config(self) -> dict:
        return self.doc.setdefault("config", {})

    def lowerdirs(self) -> list[str]:
        """The layers' snapshot directories, top first; unpacks (and fetches) those not there yet."""
        from ..registry.layer_sources import ensure_snapshots, is_available

        if any(layer.keyonly and not is_available(self.store, layer.diff_id) for layer in self.layers):
            raise KeyOnlyLayers()
        ensure_snapshots(self.store, self.layers, getattr(self.bases, "registry_options", None))  # and leases
        return [str(self.store.snapshot_path(layer.diff_id)) for layer in reversed(self.layers)]

    def env_dict(self) -> dict[str, str]:
        return dict(e.split("=", 1) if "=" in e else (e, "") for e in self.config.get("Env") or [])

    def add_history(self, created_by: str, empty_layer: bool, created: float | None = None) -> None:
        """A history entry for a step: at the epoch when there is one, else at `created`
        (when its layer was made); None until the image is finished (history.fill_history_times)."""
        when = iso(self.epoch) if self.epoch is not None else iso(int(created)) if created else None
        entry = {"created": when, "created_by": created_by, "comment": "buildkit.dockerfile.v0"}
        if empty_layer:
            entry["empty_layer"] = True
        self.doc.setdefault("history", []).append(entry)

    def step_id(self) -> str:
        """An ID of the stage as it is after a step, as docker's classic builder shows each step's
        image: the same for the same filesystem key, config and history, so a rebuild from the
        cache shows the same IDs (no image is stored under it)."""
        doc = {"fs": self.fs_key, "config": self.config,
               "history": [[h.get("created_by"), bool(h.get("empty_layer"))] for h in self.doc.get("history") or []]}
        return "sha256:" + hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()

    def clone(self) -> "StageState":
        return StageState(self.store, list(self.layers), copy.deepcopy(self.doc), None, False, (), self.fs_key,
                          epoch=self.epoch, base=self.base)


def scratch_doc(platform: dict[str, str]) -> dict:
    return {**platform, "config": {}, "rootfs": {"type": "layers", "diff_ids": []}, "history": []}

