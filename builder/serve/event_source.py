"""Where events come from, in one place so that no route has to publish its own: the server
asks `before()` ahead of each mutating request (what the request names, resolved while it still
exists: a container about to be removed) and `after()` once it succeeded (for a streamed reply,
once the stream ended without an in-stream error). A watcher thread sees containers die (their
state in the store), also those started by `cairn run -d` outside the server."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time

from .router import split_version

WATCH_EVERY = 1.0  # seconds between looks at the containers' states

_CONTAINER = re.compile(r"/containers/(?P<key>[^/]+)/(?P<verb>start|stop|kill|restart|pause|unpause)\Z")
_CONTAINER_DELETE = re.compile(r"/containers/(?P<key>[^/]+)\Z")
_IMAGE_TAG = re.compile(r"/images/(?P<name>.+)/tag\Z", re.DOTALL)
_IMAGE_PUSH = re.compile(r"/images/(?P<name>.+)/push\Z", re.DOTALL)
_IMAGE_GET = re.compile(r"/images/(?P<name>.+)/get\Z", re.DOTALL)
_IMAGE_DELETE = re.compile(r"/images/(?P<name>.+)\Z", re.DOTALL)
_VERB = {"start": "start", "stop": "stop", "kill": "kill", "restart": "restart", "pause": "pause",
         "unpause": "unpause"}


def _container_attrs(store, cid: str) -> dict:
    from ..containers.dirs import ContainerDir

    state = ContainerDir(store, cid).state()
    return {"image": state.get("image"), "name": state.get("name"), **(state.get("labels") or {})}


def _container_id(ctx, key: str) -> tuple[str, dict] | None:
    from ..containers.dirs import find_container

    try:
        with ctx.store() as store:
            c = find_container(store, key)
            return c.id, _container_attrs(store, c.id)
    except Exception:  # noqa: BLE001 - no such container: the request will fail by itself
        return None


def _image_id(ctx, name: str) -> str | None:
    from ..store.images import resolve

    try:
        with ctx.store() as store:
            return str(resolve(store, name).id)
    except Exception:  # noqa: BLE001 - no such image: the request will fail by itself
        return None


def before(ctx, request) -> dict | None:
    """What the request will change, resolved now; None for requests that publish nothing."""
    if request.method not in ("POST", "DELETE", "GET"):
        return None
    try:
        path = split_version(request.path)
    except Exception:  # noqa: BLE001 - the router answers a bad version
        return None
    q = request.query
    if request.method == "GET":
        m = _IMAGE_GET.match(path)
        if path == "/images/get":
            return {"kind": "save", "names": [n for n in request.query.get("names", "").split(",") if n]}
        return {"kind": "save", "names": [m.group("name")]} if m else None
    if request.method == "DELETE":
        m = _CONTAINER_DELETE.match(path)
        if m:
            found = _container_id(ctx, m.group("key"))
            return {"kind": "destroy", "container": found} if found else None
        m = _IMAGE_DELETE.match(path)
        if m:
            return {"kind": "image-delete", "id": _image_id(ctx, m.group("name"))}
        return None
    if path == "/containers/create":
        return {"kind": "create"}
    m = _CONTAINER.match(path)
    if m:
        found = _container_id(ctx, m.group("key"))
        return {"kind": _VERB[m.group("verb")], "container": found, "signal": q.get("signal")} if found else None
    m = _IMAGE_TAG.match(path)
    if m:
        repo, tag = q.get("repo", ""), q.get("tag", "") or "latest"
        return {"kind": "tag", "id": _image_id(ctx, m.group("name")), "name": f"{repo}:{tag}"}
    m = _IMAGE_PUSH.match(path)
    if m:
        tag = q.get("tag", "")
        return {"kind": "push", "name": f"{m.group('name')}:{tag}" if tag else m.group("name")}
    if path == "/images/create" and q.get("fromImage"):
        image, tag = q["fromImage"], q.get("tag", "")
        sep = "@" if tag.startswith("sha256:") else ":"
        return {"kind": "pull", "name": f"{image}{sep}{tag}" if tag else f"{image}:latest"}
    if path == "/images/load":
        return {"kind": "load"}
    if path == "/build":
        tags = getattr(request, "query_lists", {}).get("t") or ([q["t"]] if q.get("t") else [])
        return {"kind": "build", "tags": tags}
    return None


def after(ctx, plan: dict, status: int, body: bytes, lines: list[str] | None = None) -> None:
    """Publish what a successful request did. body: the reply's (non-streamed) body; lines:
    the streamed reply's JSON lines that name images (kept by watch_stream). An event that
    cannot be made (a store briefly unreadable) is left out: the request succeeded."""
    try:
        _after(ctx, plan, status, body, lines)
    except Exception:  # noqa: BLE001
        return


def _after(ctx, plan: dict, status: int, body: bytes, lines: list[str] | None) -> None:
    bus, kind = ctx.events, plan["kind"]
    if status >= 300:
        return
    if kind == "create":
        try:
            cid = json.loads(body)["Id"]
        except (ValueError, KeyError, TypeError):
            return
        with ctx.store() as store:
            bus.publish("container", "create", cid, _container_attrs(store, cid))
        return
    if kind in _VERB.values() or kind == "destroy":
        cid, attrs = plan["container"]
        if kind == "kill" and plan.get("signal"):
            attrs = {**attrs, "signal": plan["signal"]}
        if kind in ("stop", "destroy") and ctx.watcher is not None:
            ctx.watcher.check(cid)  # docker's order: die, then stop or destroy
        bus.publish("container", kind, cid, attrs)
        if kind in ("start", "restart") and ctx.watcher is not None:
            ctx.watcher.started(cid, attrs)
        return
    if kind == "tag" and plan.get("id"):
        bus.publish("image", "tag", plan["id"], {"name": plan["name"]})
    elif kind in ("push", "pull"):
        bus.publish("image", kind, plan["name"], {"name": plan["name"]})
    elif kind == "save":
        for name in plan["names"]:
            bus.publish("image", "save", name, {"name": name})
    elif kind == "image-delete":
        try:
            entries = json.loads(body)
        except ValueError:
            return
        for entry in entries if isinstance(entries, list) else []:
            for what, value in (entry.items() if isinstance(entry, dict) else ()):
                if what == "Untagged":
                    bus.publish("image", "untag", plan.get("id") or value, {"name": value})
                elif what == "Deleted":
                    bus.publish("image", "delete", value, {"name": value})
    elif kind in ("load", "build"):
        _from_stream(bus, plan, lines or [])


_LOADED = re.compile(r"Loaded image(?: ID)?: (\S+)")
_AUX_ID = re.compile(r'"aux": ?\{"ID": ?"(sha256:[0-9a-f]{64})"')


def _from_stream(bus, plan: dict, lines: list[str]) -> None:
    """load: each image the stream says it loaded; build: the image (aux ID), then its tags
    (the t query: a quiet build's stream names none)."""
    for line in lines:
        if plan["kind"] == "load" and (m := _LOADED.search(line)):
            bus.publish("image", "load", m.group(1), {"name": m.group(1)})
        elif plan["kind"] == "build" and (m := _AUX_ID.search(line)):
            bus.publish("image", "build", m.group(1), {})
            for tag in plan.get("tags", []):
                name = tag if ":" in tag.rsplit("/", 1)[-1] else f"{tag}:latest"
                bus.publish("image", "tag", m.group(1), {"name": name})


def watch_stream(ctx, plan: dict, stream):
    """The stream, passed through; at its end, if no line carried an error, the events. Only
    the (few) lines naming images are kept, each at most 1 KiB."""
    kept: list[str] = []
    failed = False
    inner = iter(stream)
    try:
        for item in inner:
            if item:
                text = item.decode("utf-8", "replace")
                if '"error"' in text or '"errorDetail"' in text:
                    failed = True
                for line in text.splitlines():
                    if len(kept) < 256 and ("Loaded image" in line or '"aux"' in line):
                        kept.append(line[:1024].replace("\\n", "\n"))
            yield item
    finally:
        close = getattr(inner, "close", None)
        if close is not None:  # (a client gone away cancels the handler's work too)
            close()
    if not failed:
        after(ctx, plan, 200, b"", kept)


class Watcher:
    """A thread that looks at the containers' states every WATCH_EVERY seconds and publishes
    `die` (with exitCode) when a running container stopped, and `destroy` when one it saw
    running vanished (docker run --rm, AutoRemove)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self._lock = threading.Lock()
        self._running: dict[str, dict] = {}
        self._since: dict[str, float] = {}  # when started() was told: a look begun before it knows nothing
        self._seen: set[str] = set()  # every container the last look saw
        self._stop = threading.Event()

    def started(self, cid: str, attrs: dict) -> None:
        with self._lock:
            self._running[cid] = attrs
            self._since[cid] = time.monotonic()
            self._seen.add(cid)

    def check(self, cid: str) -> None:
        """Publish `die` now if the container, seen running, is no longer (a stop or a
        forced remove just ended it)."""
        from ..containers.dirs import ContainerDir

        with self._lock:
            attrs = self._running.get(cid)
        if attrs is None:
            return
        with self.ctx.store() as store:
            c = ContainerDir(store, cid)
            if c.running():
                return
            code = c.state().get("exit_code")
        with self._lock:
            if self._running.pop(cid, None) is None:
                return
        self.ctx.events.publish("container", "die", cid, {**attrs, "exitCode": str(code if code is not None else 0)})

    def start(self) -> None:
        self._look(publish=False)
        threading.Thread(target=self._loop, name="cairn-serve-watcher", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(WATCH_EVERY):
            with contextlib.suppress(Exception):  # a store briefly unreadable: look again later
                self._look(publish=True)

    def _look(self, publish: bool) -> None:
        from ..containers.dirs import all_containers

        begun = time.monotonic()
        now, states, ended = {}, {}, {}
        with self.ctx.store() as store:
            for c in all_containers(store):
                state = states[c.id] = c.state()
                if c.running():
                    now[c.id] = _container_attrs(store, c.id)
                elif c.id not in self._seen and state.get("status") == "exited":
                    ended[c.id] = _container_attrs(store, c.id)  # came and went between two looks
        with self._lock:
            gone = {cid: attrs for cid, attrs in self._running.items()
                    if cid not in now and self._since.get(cid, 0.0) < begun}
            for cid in gone:
                self._since.pop(cid, None)
                del self._running[cid]
            if not publish:
                self._running.update(now)
            else:  # (only what was seen stopped is dropped: a start published meanwhile stays)
                self._running.update({cid: a for cid, a in now.items() if cid not in self._running})
            # (a container still being created is not seen yet: its death is still to come)
            self._seen = {cid for cid, st in states.items() if st.get("status") != "created"} | set(self._running)
        if not publish:
            return
        for cid, attrs in [*gone.items(), *ended.items()]:
            state = states.get(cid)
            code = (state or {}).get("exit_code")
            self.ctx.events.publish("container", "die", cid,
                                    {**attrs, "exitCode": str(code if code is not None else 0)})
            if state is None:
                self.ctx.events.publish("container", "destroy", cid, attrs)
