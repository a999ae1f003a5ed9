"""What `cairn ps` shows of each container, as docker shows it: the fields a `--format`
template sees (ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Size, Names,
Labels, Mounts, Networks, LocalVolumes, `.Label "k"`), and docker's `--filter`s."""

from __future__ import annotations

import os
import re
import time

import click

from ..containers.metadata import health_text, ports_text
from ..errors import CairnError
from .common import go_time, human_duration, human_size
from .gotemplate import Record

HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
           "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
           "Names": "NAMES", "Labels": "LABELS", "Label": "LABEL", "Mounts": "MOUNTS",
           "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES", "HealthStatus": "HEALTH STATUS"}
DEFAULT_TABLE = "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}"
FILTERS = ("status", "name", "label", "ancestor", "id", "exited", "before", "since", "health", "volume")
STATES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def parse_filters(values: tuple[str, ...]) -> dict[str, list[str]]:
    """`-f key=value`..., as docker reads them: one key's values are alternatives (OR),
    different keys must all hold (AND)."""
    out: dict[str, list[str]] = {}
    for text in values:
        key, eq, value = text.partition("=")
        if not eq:
            raise click.BadParameter(f"bad format of filter (expected name=value): {text!r}", param_hint="'--filter'")
        out.setdefault(key.strip().lower(), []).append(value)
    return out


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def state_name(st: dict, running: bool) -> str:
    if running:
        return "running"
    status = st.get("status")
    if status == "exited":
        return "exited"
    return "created" if status == "created" else "dead"


def _health(st: dict) -> str:
    """The health status in the state (`starting`, `healthy`, `unhealthy`), or `none`."""
    return (st.get("health") or {}).get("status") or "none"


def status_text(st: dict, running: bool, now: float) -> str:
    """docker's State.String(): `Up 3 seconds (healthy)`, `Exited (0) 2 minutes ago`, `Created`."""
    if running:
        return f"Up {human_duration(now - (st.get('started') or now))}{health_text(st)}"
    status = st.get("status")
    if status == "created":
        return "Created"
    if status == "exited":
        return f"Exited ({st.get('exit_code', 0)}) {human_duration(now - (st.get('finished') or now))} ago"
    return "Dead"


def _dir_size(path) -> int:
    total, stack = 0, [str(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        pass
        except OSError:
            pass
    return total


def container_record(c, st: dict, running: bool, no_trunc: bool, size_of=None, now: float | None = None) -> Record:
    now = time.time() if now is None else now
    labels = st.get("labels") or {}
    command = " ".join(st.get("command") or [])
    mounts = [str(v) for v in st.get("volumes") or []]  # docker names a volume mount by its volume
    size = "0B"
    if size_of is not None:
        rw = _dir_size(c.upper)
        size = f"{human_size(rw)} (virtual {human_size(rw + size_of(st))})"
    network = st.get("network") or ("bridge" if st.get("address") else "")
    fields = {
        "Command": _go_quote(command if no_trunc else _ellipsis(command, 20)),
        "CreatedAt": go_time(st.get("created")),
        "HealthStatus": "" if _health(st) == "none" else _health(st),
        "ID": c.id if no_trunc else c.id[:12],
        "Image": st.get("image") or "<no image>",
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "LocalVolumes": str(len(mounts)),
        "Mounts": ",".join(mounts if no_trunc else [_ellipsis(m, 15) for m in mounts]),
        "Names": st.get("name") or "",
        "Networks": network,
        "Ports": ports_text(st),
        "RunningFor": human_duration(now - (st.get("created") or now)) + " ago",
        "Size": size,
        "State": state_name(st, running),
        "Status": status_text(st, running, now),
    }
    return Record("*formatter.ContainerContext", fields, {"Label": lambda key: str(labels.get(key, ""))})


def _match(pattern: str, text: str) -> bool:
    """docker's filters.Match: the value as a regular expression searched in the text."""
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return pattern in text


def _labels_match(labels: dict, wanted: list[str]) -> bool:
    for want in wanted:
        key, eq, value = want.partition("=")
        if key not in labels or (eq and str(labels[key]) != value):
            return False
    return True


class ContainerFilter:
    """docker ps's --filter, checked for its keys and values before anything is listed."""

    def __init__(self, filters: dict[str, list[str]], store, containers: list):
        for key in filters:
            if key not in FILTERS:
                raise CairnError(f"invalid filter '{key}'")
        for value in filters.get("status", []):
            if value not in STATES:
                raise CairnError(f"invalid filter 'status={value}'")
        for value in filters.get("health", []):
            if value not in ("starting", "healthy", "unhealthy", "none"):
                raise CairnError(f"invalid filter 'health={value}'")
        for value in filters.get("exited", []):
            if not value.lstrip("-").isdigit():
                raise CairnError(f"invalid filter 'exited={value}'")
        self.filters = filters
        self.ancestors = set()
        for text in filters.get("ancestor", []):
            from ..store import images

            try:
                self.ancestors.add(str(images.resolve(store, text).id))
            except CairnError:  # docker: an unknown ancestor matches nothing
                continue
        self.bounds = {}
        for key in ("before", "since"):
            for text in filters.get(key, []):
                from ..containers.dirs import find_container

                self.bounds[key] = find_container(store, text).state().get("created", 0)

    @property
    def shows_stopped(self) -> bool:
        return "status" in self.filters  # docker: a status filter implies --all

    def __call__(self, c, st: dict, running: bool) -> bool:
        f = self.filters
        name = st.get("name") or ""
        created = st.get("created", 0)
        checks = [
            ("status", lambda: state_name(st, running) in f["status"]),
            ("name", lambda: any(_match(v, name) or _match(v, "/" + name) for v in f["name"])),
            ("id", lambda: any(_match(v, c.id) for v in f["id"])),
            ("label", lambda: _labels_match(st.get("labels") or {}, f["label"])),
            ("ancestor", lambda: st.get("image_id") in self.ancestors or st.get("image") in f["ancestor"]),
            ("exited", lambda: not running and st.get("status") == "exited" and st.get("started") is not None
             and str(st.get("exit_code")) in f["exited"]),
            ("health", lambda: _health(st) in f["health"]),
            ("volume", lambda: any(v in (st.get("volumes") or []) for v in f["volume"])),
            ("before", lambda: created < self.bounds["before"]),
            ("since", lambda: created > self.bounds["since"]),
        ]
        return all(check() for key, check in checks if key in f)
