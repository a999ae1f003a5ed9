"""What a build gives back: the image, and a record of each step (hit or miss, why, its
layer and times), read by the metadata file, the cache export and the bench replay."""

from __future__ import annotations

from dataclasses import asdict, field

from runtime.record import Record, record

from ..store import images

COUNTED = ("RUN", "COPY", "ADD")  # the steps hit rates count


@record
class StepRecord(Record):
    instruction: str            # as written in the Dockerfile
    stage: str                  # the stage's name, or its index
    kind: str                   # the keyword: RUN, COPY, ENV...
    cached: bool
    key: str | None             # the cache key (None: the step is not cached)
    cache_source: str | None    # "local", or the --cache-from source of a hit
    position: str               # Dockerfile:stage:index, the same step across builds
    line: int                   # the step's first line in the Dockerfile
    diff_id: str | None         # the layer the step gave (None: none)
    size: int                   # bytes of the layer a miss made (0 for a hit)
    explanation: str | None     # why the step missed
    miss_cause: str | None      # cache/explain.py CAUSES: no-cache, files, parent, base...
    changed_files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    started: float = 0.0        # wall-clock times
    finished: float = 0.0
    created: float | None = None  # when its layer was made (its history time; not in the metadata)

    def to_json(self) -> dict:
        """The step as --metadata-file writes it."""
        out = asdict(self)
        del out["kind"], out["created"]
        return out


@record
class BuildResult(Record):
    image: images.ImageRecord
    steps: tuple[StepRecord, ...]
    checks: tuple = ()  # checks.Finding: the build checks that failed (warnings)
    bases: object = None  # base_images.BaseImages: what the build's images were resolved to
    racy_reads: object = None  # sources.StatCache.racy: files hashed too soon after a change to be remembered

    def metadata(self) -> dict:
        """What --metadata-file writes; totals count RUN, COPY and ADD steps only."""
        counted = [s for s in self.steps if s.kind in COUNTED]
        hits = sum(1 for s in counted if s.cached)
        return {
            "containerimage.digest": str(self.image.manifest),
            "containerimage.config.digest": str(self.image.config),
            "image.name": ",".join(self.image.tags),
            "steps": [s.to_json() for s in self.steps],
            "hits": hits,
            "misses": len(counted) - hits,
            "hit_rate": round(hits / len(counted), 4) if counted else 0.0,
            "rebuilt_bytes": sum(s.size for s in self.steps if not s.cached),
            **({"checks": [f.as_json() for f in self.checks]} if self.checks else {}),
        }
