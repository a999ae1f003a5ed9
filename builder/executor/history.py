"""The `created_by` of the history entry a step adds, in BuildKit's words:

- RUN: `RUN [|N K=V ...] ARGV... # buildkit`, the stage's build args (N of them, ENV
  winning over an ARG's value) before the command as it runs (through SHELL);
- COPY/ADD: the keyword, --parents/--chown/--chmod/--link as given, sources and
  destination (never --from), then `# buildkit`;
- EXPOSE: the sorted port keys, `EXPOSE [1234/udp 2375/tcp]`;
- anything else: the instruction as written.

And the times, as BuildKit's image exporter gives them: with SOURCE_DATE_EPOCH, every
entry the build adds and the config are at the epoch. Without it, an entry that adds a
layer is at the time the layer was made (kept in its cache record, so a fully cached
rebuild gives the same image ID); an entry without a layer takes the time of the first
layer made after the first such entry, then of the latest layer before it; the config's
`created` is the last entry's.
"""

from __future__ import annotations

import time

from ..instructions import types as t
from .epoch import iso
from .runcmd import run_command
from .state import StageState


def _run_line(state: StageState, cmd: t.Run) -> str:
    scope = state.scope
    pairs = [f"{k}={scope.env.get(k, v or '')}" for k, v in scope.args.items()]
    words = ([f"|{len(pairs)}"] + pairs if pairs else []) + run_command(state, cmd)
    return "RUN " + " ".join(words) + " # buildkit"


def _copy_line(cmd: t.Copy | t.Add) -> str:
    words = [cmd.keyword.upper()]
    if getattr(cmd, "parents", False):
        words.append("--parents")
    for flag, value in (("chown", cmd.chown), ("chmod", cmd.chmod)):
        if value:
            words.append(f"--{flag}={value}")
    if getattr(cmd, "link", False):
        words.append("--link")
    words += [*cmd.sources, *(c.path for c in cmd.contents), cmd.dest]
    return " ".join(words) + " # buildkit"


def created_by(state: StageState, cmd: t.Command) -> str:
    if isinstance(cmd, t.Run):
        return _run_line(state, cmd)
    if isinstance(cmd, (t.Copy, t.Add)):
        return _copy_line(cmd)
    if isinstance(cmd, t.Expose):
        return "EXPOSE [" + " ".join(sorted(state.config.get("ExposedPorts") or {})) + "]"
    return cmd.original


def fill_history_times(doc: dict, epoch: int | None) -> str:
    """Give every history entry without a time one (in place); returns the config's `created`."""
    if epoch is not None:
        return iso(epoch)
    history = doc.get("history") or []
    when, missing = None, False
    for entry in history:  # the first time after the first entry without one, else the last time
        if entry.get("created"):
            when = entry["created"]
            if missing:
                break
        else:
            missing = True
    missing = False
    for entry in history:
        if entry.get("created"):
            if missing:
                when = entry["created"]
        else:
            missing = True
            entry["created"] = when or iso(int(time.time()))  # (no layer time at all: now)
    return history[-1]["created"] if history else iso(int(time.time()))
