"""`cairn build --progress json` events told as docker's classic builder tells a build (as
dockerd 20.10 streams it, recorded with DOCKER_BUILDKIT=0):

    Step 2/3 : RUN make            a step ("Step N/M : " and "\\n" are two messages, as docker's)
     ---> Running in 1f2e3d4c5b6a  a step that docker runs in a container: RUN, and the
    ...output...                   instructions that only change the config (ENV, CMD, ...)
    Removing intermediate container 1f2e3d4c5b6a
     ---> 0a1b2c3d4e5f             the image after the step (after FROM: its base's; none for scratch)
     ---> Using cache              instead of the container lines, for a step from the cache

{"aux": {"ID": ...}} at the end of each stage, the build's --label as LABEL steps at the end,
then `Successfully built ID` and `Successfully tagged NAME`, or a failed
RUN as docker words it, with the command's exit code (no "Removing" line: docker keeps it).

The IDs are cairn's: each step's is the executor's ID of the stage after it (its filesystem
key, config and history: the same on a rebuild from the cache); the last step's is the built
image's, as with docker. A container ID is new for each step that runs (cairn keeps none).
cairn keeps no cache record of a config-only step (it costs nothing): whether docker would
have it from the cache is told by the next step cairn keys (ClassicStream). Where cairn does
otherwise than docker's classic builder, the stream says what cairn did: a stage the target
does not need is not built (its steps are missing, their numbers skipped)."""

from __future__ import annotations

import hashlib
import json
import os
import re

# what dockerd runs in a container (builder/dockerfile dispatchers: RUN, and commit() of the
# steps that only change the config, WORKDIR too); COPY and ADD make their layer without one
CONFIG_ONLY = frozenset({"ENV", "CMD", "LABEL", "ARG", "EXPOSE", "USER", "VOLUME", "ENTRYPOINT", "HEALTHCHECK",
                         "SHELL", "STOPSIGNAL", "MAINTAINER", "ONBUILD"})  # (no cache record in cairn)
IN_CONTAINER = CONFIG_ONLY | {"RUN", "WORKDIR"}
# a keyed step's miss that says the config-only steps before it are new too (an earlier build
# never went through them, their env or args changed, the base changed, nothing looked up)
_NEW_BEFORE = frozenset({"new", "env", "base", "no-cache", "no-cache-filter", None})
_CODE = re.compile(r"exited with code (\d+)")


def short(image_id: str | None) -> str:
    """docker's 12-character ID (stringid.TruncateID)."""
    return (image_id or "").removeprefix("sha256:")[:12]


def failed_command(text: str) -> str:
    """docker's `The command '...'`: a shell-form RUN as /bin/sh -c TEXT, an exec form joined."""
    body = text[3:].strip() if text.upper().startswith("RUN") else text
    while body.startswith("--"):  # RUN --mount=... flags
        body = body.split(None, 1)[1] if " " in body else ""
    if body.startswith("["):
        try:
            return " ".join(json.loads(body))
        except (ValueError, TypeError, RecursionError):  # (not an exec form: cairn ran it as a shell form)
            pass
    return f"/bin/sh -c {body}"


class Outline:
    """What the stream needs from the Dockerfile: docker's M in `Step N/M` (the instructions up
    to the end of the target stage, all without one), the ARGs before the first FROM (docker
    prints them as steps), and by the label cairn's events name a stage with: its FROM line as
    written, the stage it builds on and its FROM's N (a step's N is its place in the file, as
    with docker; a stage the target does not need, which cairn skips, leaves a gap)."""

    def __init__(self, dockerfile: str, target: str | None):
        self.total, self.froms, self.starts, self.meta = 0, {}, {}, []
        try:
            import grammar

            with open(dockerfile, "rb") as f:
                tree = grammar.parse(f.read(16 << 20))
        except Exception:  # noqa: BLE001 - a bad Dockerfile: cairn build reports it with its line
            return
        stages, in_target = [], False
        for inst in tree.instructions:
            if inst.keyword.upper() == "FROM":
                if in_target:
                    break
                words = [w.lower() for w in inst.args]
                name = words[2] if len(words) == 3 and words[1] == "as" else ""
                in_target = bool(target) and name == target.lower()
                stages.append((name, words[0] if words else "", inst.original.strip(), self.total + 1))
            elif not stages:
                self.meta.append(inst.original.strip())
            self.total += 1
        labels = {}
        for index, (name, base, original, start) in enumerate(stages):
            label = "" if len(stages) == 1 else name or f"stage-{index}"
            self.froms[label] = (original, labels.get(base))
            self.starts[label] = start
            if name:
                labels[name] = label


class _Step:
    def __init__(self, text: str, stage: str):
        self.text, self.stage = text, stage
        self.keyword = (text.split(None, 1) or [""])[0].upper()
        self.container = ""  # the "Running in" ID, once shown
        self.cached: bool | None = None  # a config-only step's, once settled


class ClassicStream:
    """Feed it the build's events (event()); say(text) gets each stream message.

    A config-only step is settled by the next step of its stage that cairn keys (RUN, COPY,
    ADD, WORKDIR): from the cache if that one hit or missed for a reason of its own (its files,
    its text), not if it missed as new, for env or args, a new base or no cache. Until then its
    lines wait (with whatever comes after them); a stage or build that ends first settles it
    as the step before it was."""

    def __init__(self, say, outline: Outline, nocache: bool, aux=None, labels: tuple[str, ...] = ()):
        """aux(ID): the message {"aux": {"ID": ...}} docker sends at the end of each stage but
        the last; labels: `KEY=VALUE` of the build's --label, which docker adds as LABEL steps
        at the end of the target stage, one a key in the keys' order."""
        self.out, self.outline, self.nocache, self.aux = say, outline, nocache, aux
        self.labels = [f"LABEL {kv}" for kv in sorted(labels, key=lambda kv: kv.split("=", 1)[0])]
        self.last: tuple[str, str] | None = None  # (stage, full ID) of the last step or FROM
        self.number = 0  # the last step's N
        self.in_stage: dict[str, int] = {}  # stage -> its steps so far
        self.steps: dict = {}
        self.stage_cached: dict[str, bool] = {}  # stage -> whether its last settled step was from the cache
        self.unsettled: dict[str, list[_Step]] = {}  # stage -> its config-only steps not settled yet
        self.held: list = []  # messages (str) and unsettled steps' places (_Step), in order
        self.pending: str | None = None  # the last " ---> ID" (the image's, if no step follows)
        self.error, self.code = "", 1

    # -- output: held while an earlier config-only step is unsettled ------------------------
    def say(self, item) -> None:
        """A message (str), an aux ID ({"aux": ID}) or a config-only step's place (_Step)."""
        if self.held or (isinstance(item, _Step) and item.cached is None):
            self.held.append(item)
        else:
            self._write(item)

    def _write(self, item) -> None:
        if isinstance(item, _Step):
            self._settled_lines(item)
        elif isinstance(item, dict):
            if self.aux is not None:
                self.aux(item["aux"])
        else:
            self.out(item)

    def _release(self) -> None:
        while self.held and not (isinstance(self.held[0], _Step) and self.held[0].cached is None):
            self._write(self.held.pop(0))

    def _settled_lines(self, step: _Step) -> None:
        if step.cached:
            self.out(" ---> Using cache\n")
        else:
            step.container = os.urandom(6).hex()
            self.out(f" ---> Running in {step.container}\n")
            self.out(f"Removing intermediate container {step.container}\n")

    def _settle(self, stage: str, cached: bool) -> None:
        for step in self.unsettled.pop(stage, []):
            step.cached = cached
        self.stage_cached[stage] = cached
        self._release()

    def settle_all(self) -> None:
        """No more evidence (the build ended): each waiting step as the step before it was."""
        for stage in list(self.unsettled):
            self._settle(stage, self.stage_cached.get(stage, True))

    # -- events -------------------------------------------------------------------------
    def event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "stage":
            label = str(event.get("stage") or "")
            self._flush()
            if self.last is not None and self.last[1]:
                self.say({"aux": self.last[1]})  # the stage before ended
            original, base = self.outline.froms.get(label, (None, None))
            if base is not None and base in self.unsettled:
                self._settle(base, self.stage_cached.get(base, True))
            self._start({**event, "text": original or event.get("text", "")})
            self.stage_cached[label] = self.stage_cached.get(base, True) if base is not None else True
            self._ended(label, event.get("image"))
        elif kind == "step":
            step = self._start(event)
            if step.keyword not in CONFIG_ONLY and event.get("cached") is not None and step.stage in self.unsettled:
                self._settle(step.stage, bool(event["cached"]) or event.get("cause") not in _NEW_BEFORE)
            if step.keyword == "RUN" and event.get("cached") is False:
                self._running(step)
        elif kind == "log":
            step = self.steps.get(event.get("step"))
            if step is not None and step.keyword == "RUN":
                self._running(step)
            self.say(f"{event.get('text', '')}\n")
        elif kind == "done":
            self._done(event)
        elif kind == "warning":
            self.say(f"[WARNING]: {event.get('text', '')}\n")
        elif kind == "error":
            self.settle_all()
            self._failed(event)

    def _start(self, event: dict) -> _Step:
        self._flush()
        if self.number == 0:
            for text in self.outline.meta:
                self._number(None, text)  # (first in the file: N is 1, 2, ...)
        step = self.steps[event.get("step")] = _Step(str(event.get("text", "")), str(event.get("stage") or ""))
        start = self.outline.starts.get(step.stage)
        place = self.in_stage[step.stage] = self.in_stage.get(step.stage, -1) + 1
        self._number(None if start is None else start + place, step.text)
        return step

    def _number(self, number, text: str) -> None:
        """`Step N/M : TEXT` (N the next in arrival order when the Dockerfile did not say)."""
        self.number = number if isinstance(number, int) else self.number + 1
        self.say(f"Step {self.number}/{max(self.outline.total + len(self.labels), self.number)} : {text}")
        self.say("\n")

    def _running(self, step: _Step) -> None:
        if not step.container:
            step.container = os.urandom(6).hex()
            self.say(f" ---> Running in {step.container}\n")

    def _done(self, event: dict) -> None:
        step = self.steps.get(event.get("step"))
        if step is None:
            return
        if step.keyword in CONFIG_ONLY:
            if self.nocache or not self.stage_cached.get(step.stage, True):
                step.cached = False  # (after a miss every step misses, as with docker)
            else:
                self.unsettled.setdefault(step.stage, []).append(step)
            self.say(step)
        else:
            cached = bool(event.get("cached"))
            if cached:
                self.say(" ---> Using cache\n")
            elif step.keyword in IN_CONTAINER:
                self._running(step)
                self.say(f"Removing intermediate container {step.container}\n")
            self.stage_cached[step.stage] = cached
        self._ended(step.stage, event.get("image"))

    def _ended(self, stage: str, image_id: str | None) -> None:
        self.last = (stage, image_id or "")
        self.pending = short(image_id)

    def _failed(self, event: dict) -> None:
        step = self.steps.get(event.get("step"))
        text = step.text if step is not None else ""
        m = _CODE.search(str(event.get("text", "")))
        if m and step is not None and step.keyword == "RUN":
            self._running(step)
            self.code = int(m.group(1))
            self.error = f"The command '{failed_command(text)}' returned a non-zero code: {self.code}"
        else:
            self.error = str(event.get("text", ""))

    def _flush(self) -> None:
        if self.pending is not None:
            self.say(f" ---> {self.pending}\n")
            self.pending = None

    def finish(self, image_id: str) -> None:
        """The build succeeded: the --label steps, then the last step's line names the image."""
        self.settle_all()
        stage, previous = self.last or ("", image_id)
        for text in self.labels:
            self._flush()
            self._number(None, text)
            step = _Step(text, stage)
            step.cached = not self.nocache and self.stage_cached.get(stage, True)
            self.say(step)
            self.stage_cached[stage] = step.cached
            previous = "sha256:" + hashlib.sha256(f"{previous}\n{text}".encode()).hexdigest()
            self.pending = short(previous)
        if self.pending is not None:
            self.pending = short(image_id)
        self._flush()
