"""What a replay records of each build: its hits and misses, each miss with its cause,
its time and error; read by the reports and written by both builders' replays."""

from __future__ import annotations

from dataclasses import dataclass, field

from .dockerfile_facts import Facts
from .git import Commit


@dataclass(frozen=True)
class Miss:
    instruction: str
    stage: str
    explanation: str
    cause: str
    changed_files: tuple[str, ...] = ()
    position: str = ""  # Dockerfile:stage:index: the same step across commits, whatever its text
    line: int = 0  # its first line in that commit's Dockerfile (0: unknown, BuildKit's)

    def to_json(self) -> dict:
        return {"instruction": self.instruction, "stage": self.stage, "explanation": self.explanation,
                "cause": self.cause, "changed_files": list(self.changed_files), "position": self.position,
                "line": self.line}


@dataclass(frozen=True)
class BuildRecord:
    commit: str
    subject: str
    time: str
    hits: int
    misses: int
    seconds: float
    rebuilt_bytes: int
    misses_explained: tuple[Miss, ...] = ()
    error: str | None = None
    builder: str = "cairn"
    steps: tuple[tuple[str, bool, str], ...] = field(default=(), compare=False)  # (instruction, cached, position)
    facts: Facts = field(default=Facts(), compare=False)  # of the Dockerfile this commit built

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return round(self.hits / total, 4) if total else 0.0

    def to_json(self) -> dict:
        return {"commit": self.commit, "subject": self.subject, "time": self.time, "hits": self.hits,
                "misses": self.misses, "hit_rate": self.hit_rate, "seconds": round(self.seconds, 3),
                "rebuilt_bytes": self.rebuilt_bytes, "misses_explained": [m.to_json() for m in self.misses_explained],
                "error": self.error, "builder": self.builder,
                "steps": [{"instruction": i, "cached": c, "position": p} for i, c, p in self.steps]}


def failed_build(commit: Commit, error: str, seconds: float, builder: str = "cairn") -> BuildRecord:
    return BuildRecord(commit.sha, commit.subject, commit.time, 0, 0, seconds, 0, (), error, builder)


