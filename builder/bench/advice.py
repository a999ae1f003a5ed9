"""Which steps cost a replay its cache hits, ranked by root cause, and what to do about each.

In each build the root causes are the misses that are not a consequence of an earlier miss:
the first step that missed, and any later one that missed for a reason of its own (its files,
its env, its text). Each miss that follows from a root ("an earlier step missed first", or a
COPY --from a stage that missed) is charged to that root; the ranking counts, for each step (by position: the same step across
commits, whatever its text), the builds in which it was a root and the misses it caused.

A suggestion never breaks the build: a path that a COPY, ADD or bind mount of the latest
Dockerfile names (bench/dockerfile_facts.py) is never suggested for .dockerignore, and the
manifest-first split comes from the cache rules (builder/checks), with the lines to write.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .dockerfile_facts import Facts
from .records import BuildRecord, Miss

# Paths that rarely belong in an image: changes there should not rebuild anything.
_NOISE = re.compile(r"^(docs?|tests?|spec|examples?|\.github|\.gitlab|\.circleci|\.vscode|\.idea)(/|$)"
                    r"|(^|/)(README|CHANGELOG|CHANGES|LICENSE|CONTRIBUTING|AUTHORS)[^/]*$|\.(md|rst)$"
                    r"|(^|/)(Dockerfile[^/]*|\.dockerignore)$", re.I)
_FIRST_MISS = re.compile(r"an earlier step missed first: \S*?:(\d+) ")
_FROM_STAGE = re.compile(r"^(?:COPY|ADD)\s.*?--from=(\S+)", re.I)
_FOLLOWS = ("parent", "unknown")  # causes that may be a consequence of an earlier miss

CAUSE_WORDS = {"files": "files changed", "parent": "an earlier step missed", "env": "a build arg or env changed",
               "instruction": "the instruction was edited", "format": "the cache format changed",
               "base": "the base image moved", "no-cache": "--no-cache", "no-cache-filter": "--no-cache-filter",
               "gone": "its cached layer was gone", "unknown": "unknown (BuildKit does not say)"}


@dataclass(frozen=True)
class Offender:
    instruction: str
    stage: str
    line: int               # its line in the latest Dockerfile that ran it (0: unknown)
    filename: str           # the Dockerfile's name
    invalidated: int        # builds in which this step was a root cause
    builds: int             # successful builds that ran this step
    caused: int             # misses in those builds: its own and those of the steps that followed from it
    causes: tuple[tuple[str, int], ...]
    places: tuple[tuple[str, int], ...]   # where the changed files were: top-level dirs (or root files)
    suggestion: str

    @property
    def where(self) -> str:
        return f"{self.filename}:{self.line}" if self.line else self.filename

    def sentence(self) -> str:
        text = (f"{self.where} {self.instruction}: first to miss in {self.invalidated} of {self.builds} builds "
                f"({self.caused} misses with the steps after it)")
        if self.places:
            top = [p for p, _ in self.places[:3]]
            text += "; most changes were under " + (", ".join(top[:-1]) + " and " + top[-1] if len(top) > 1
                                                     else top[0])
        elif self.causes:
            text += f"; mostly: {CAUSE_WORDS.get(self.causes[0][0], self.causes[0][0])}"
        return text


def place(path: str) -> str:
    head, sep, _ = path.partition("/")
    return head + "/" if sep else head


def roots(record: BuildRecord) -> list[tuple[Miss, list[Miss]]]:
    """The root misses of one build, in order, each with the misses charged to it (itself first)."""
    found: list[tuple[Miss, list[Miss]]] = []
    by_line: dict[int, tuple] = {}
    by_stage: dict[str, tuple] = {}
    for m in record.misses_explained:
        owner = None
        from_stage = _FROM_STAGE.match(m.instruction)
        if from_stage and m.cause == "files":  # what it copies changed because that stage missed
            owner = by_stage.get(from_stage.group(1))
        if owner is None and m.cause in _FOLLOWS:
            named = _FIRST_MISS.search(m.explanation)
            owner = by_line.get(int(named.group(1))) if named else None
            if owner is None:
                owner = by_stage.get(m.stage) or (found[0] if found and m.cause == "parent" else None)
        if owner is None:
            owner = (m, [])
            found.append(owner)
            by_line.setdefault(m.line, owner)
            by_stage.setdefault(m.stage, owner)
        owner[1].append(m)
    return found


def _filename(position: str) -> str:
    parts = position.rsplit(":", 2)
    return parts[0] if len(parts) == 3 and parts[0] else "Dockerfile"


def _suggest(o_line: int, instruction: str, causes: Counter, files: Counter, facts: Facts, filename: str) -> str:
    main = causes.most_common(1)[0][0] if causes else ""
    if main == "files":
        out = []
        total = sum(files.values()) or 1
        entries = sorted({place(f) for f in files if _NOISE.search(f)})
        needed = {e: facts.needed_by(e) for e in entries}
        safe = [e for e in entries if needed[e] is None]
        noisy = sum(n for f, n in files.items() if _NOISE.search(f) and place(f) in safe)
        if safe and noisy / total >= 0.25:
            out.append(f"add {', '.join(safe[:4])} to .dockerignore: {noisy} of {total} changes that invalidated "
                       "this step were there, and no COPY, ADD or bind mount of the Dockerfile names them")
        split = facts.split_at(o_line)
        if split:
            out.append(split)
        kept = [f"{e} ({filename}:{needed[e][0]} needs {needed[e][1]})" for e in entries if needed[e] is not None]
        if kept and not out:
            out.append("these files are part of the image, and " + ", ".join(kept[:3]) + " must stay in the "
                       "context: the misses are expected; split the COPY if only some of them change often")
        elif kept:
            out.append("keep in the context: " + ", ".join(kept[:3]))
        return "\n".join(out) or ("these files are part of the image: the misses are expected; split the COPY if "
                                  "only some of them change often")
    return {"parent": "invalidated by an earlier step that missed: fix that one first",
            "env": "a build arg or env value changed between builds: declare that ARG just before the step that "
                   "needs it",
            "instruction": "the instruction itself was edited, or the files its bind mounts read changed",
            "base": "the base image moved: expected after an update of the base (pin it by digest to choose when)",
            "unknown": "BuildKit does not say why; replay with --builder cairn for causes"}.get(main, "")


def rank(records: list[BuildRecord], limit: int = 10) -> list[Offender]:
    """The root causes, most frequent first (then the most misses caused, then the line)."""
    ok = [r for r in records if r.error is None]
    seen: Counter = Counter(position for r in ok for _, _, position in r.steps)
    facts = next((r.facts for r in reversed(ok)), Facts())
    groups: dict[str, list] = {}
    lines: dict[str, int] = {}
    for r in ok:
        if r is ok[0] and r.builder == "buildkit":
            continue  # BuildKit's first build: every step new (it does not say so)
        for root, charged in roots(r):
            key = root.position or root.instruction
            groups.setdefault(key, []).append((root, len(charged)))
            for m in charged:
                lines[m.position or m.instruction] = m.line
    out = []
    for position, found in groups.items():
        counted = [(m, n) for m, n in found if m.cause != "new"]
        if not counted:
            continue  # a step first built in this replay: the misses after it are its own
        causes = Counter(m.cause for m, _ in counted)
        files = Counter(f for m, _ in counted for f in m.changed_files)
        instruction = counted[-1][0].instruction  # (its text when it last missed: BuildKit's positions move)
        line = lines.get(position, 0) or facts.line_of(instruction)
        filename = _filename(position)
        out.append(Offender(instruction, counted[-1][0].stage, line, filename, len(counted),
                            max(seen[position], len(counted)), sum(n for _, n in counted),
                            tuple(causes.most_common()), tuple(Counter(place(f) for f in files.elements())
                                                               .most_common(5)),
                            _suggest(line, instruction, causes, files, facts, filename)))
    out.sort(key=lambda o: (-o.invalidated, -o.caused, o.line, o.instruction))
    return out[:limit]
