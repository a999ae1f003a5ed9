"""GET /events: docker's container and image events, kept in a bounded ring in memory (the last
MAX_KEPT; a client asking `since` further back gets what is kept, as dockerd does) and streamed
as JSON lines while the client listens (until `until`, or until it leaves). The events come
from event_source.py: derived from each successful mutating request, and container deaths
seen in the store."""

from __future__ import annotations

import json
import threading
import time
from collections import deque

from .errors import bad_request
from .http import Response
from .jsonstream import client_gone

MAX_KEPT = 1024
TICK = 1.0  # seconds between checks that a listening client is still there


class EventBus:
    def __init__(self):
        self._events: deque[dict] = deque(maxlen=MAX_KEPT)
        self._cond = threading.Condition()
        self._count = 0  # events ever published: a listener's position

    def publish(self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None,
                when_ns: int | None = None) -> dict:
        now = time.time_ns() if when_ns is None else when_ns
        attrs = {k: v for k, v in (attributes or {}).items() if v is not None}
        event = {"Type": kind, "Action": action, "Actor": {"ID": actor_id, "Attributes": attrs},
                 "scope": "local", "time": now // 1_000_000_000, "timeNano": now}
        if kind in ("container", "image"):  # the API's older fields, still read by clients
            event.update({"status": action, "id": actor_id})
            if kind == "container" and attrs.get("image"):
                event["from"] = attrs["image"]
        with self._cond:
            self._events.append(event)
            self._count += 1
            self._cond.notify_all()
        return event

    def since(self, position: int) -> tuple[list[dict], int]:
        """The events published after position (those still kept), and the new position."""
        with self._cond:
            missed = self._count - position
            kept = list(self._events)[-missed:] if missed > 0 else []
            return kept, self._count

    def wait(self, position: int, timeout: float) -> None:
        with self._cond:
            if self._count == position:
                self._cond.wait(timeout)

    @property
    def position(self) -> int:
        with self._cond:
            return self._count


def _stamp(text: str, name: str) -> int | None:
    """docker's since/until: unix seconds, with an optional fraction (`1700000000.5`), as ns."""
    if not text:
        return None
    whole, dot, frac = text.partition(".")
    if not whole.lstrip("-").isdigit() or (dot and not frac.isdigit()) or len(frac) > 9:
        raise bad_request(f"invalid value for {name}: {text!r}: a unix timestamp is expected")
    return int(whole) * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)


_FILTERS = ("type", "event", "container", "image", "label")


def _filters(request) -> dict[str, list[str]]:
    from .images import (
        _filters as parse_filters,  # docker's filters parameter, both its forms
    )

    out = parse_filters(request)
    for key in out:
        if key not in _FILTERS:
            raise bad_request(f"invalid filter '{key}'")
    for kind in out.get("type", []):
        if kind not in ("container", "image", "volume", "network", "daemon", "plugin", "service",
                        "node", "secret", "config"):
            raise bad_request(f"invalid filter 'type={kind}'")
    return out


def _matches(event: dict, filters: dict[str, list[str]]) -> bool:
    actor = event["Actor"]
    attrs = actor["Attributes"]
    if "type" in filters and event["Type"] not in filters["type"]:
        return False
    if "event" in filters and event["Action"] not in filters["event"]:
        return False
    if "container" in filters:
        if event["Type"] != "container":
            return False
        if not any(actor["ID"].startswith(v) or attrs.get("name") == v for v in filters["container"]):
            return False
    if "image" in filters:
        names = {actor["ID"], attrs.get("name"), attrs.get("image")} if event["Type"] == "image" \
            else {attrs.get("image")}
        bare = {n.rsplit(":", 1)[0] for n in names if n and ":" in n.rsplit("/", 1)[-1]}
        if not any(v in names | bare or (v and actor["ID"].startswith(v)) for v in filters["image"]):
            return False
    for want in filters.get("label", []):
        key, eq, value = want.partition("=")
        if key not in attrs or (eq and attrs[key] != value):
            return False
    return True


def get_events(ctx, request) -> Response:
    since = _stamp(request.query.get("since", ""), "since")
    until = _stamp(request.query.get("until", ""), "until")
    filters = _filters(request)
    bus: EventBus = ctx.events

    def selected(events):
        for event in events:
            if since is not None and event["timeNano"] < since:
                continue
            if until is not None and event["timeNano"] > until:
                return
            if _matches(event, filters):
                yield json.dumps(event).encode() + b"\n"

    def stream():
        if since is None:  # only what happens from now on
            position = bus.position
        else:
            past, position = bus.since(0)
            yield from selected(past)
        while until is None or time.time_ns() <= until:
            bus.wait(position, TICK if until is None else min(TICK, max(0.0, (until - time.time_ns()) / 1e9)))
            fresh, position = bus.since(position)
            yield from selected(fresh)
            if client_gone(getattr(request, "connection", None)):
                return

    return Response(200, stream())


def add_routes(router) -> None:
    router.add("GET", "/events", get_events)
