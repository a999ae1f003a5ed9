"""`cairn build` on a remote daemon: the context directory streamed as a tar to POST /build
(filtered by .dockerignore here, with the local build's own filter, so an ignored file never
leaves this machine; a link is sent as a link, never followed; files are read a chunk at a
time: the memory used does not grow with the context), and the daemon's cairn progress events
printed as the local command prints them (plain lines, or the live view on a terminal), with
the local command's exit status."""

from __future__ import annotations

import json
import os
import stat
import sys
import tarfile

from .conn import RemoteError

CHUNK = 1 << 16
REMOTE_DOCKERFILE = ".cairn-remote-Dockerfile"


class _Pipe:
    """tarfile's output, handed to the request a chunk (about CHUNK bytes) at a time through a
    queue of a few chunks: the tar is never held whole, whatever the size of a file in it."""

    def __init__(self):
        import queue

        self.queue = queue.Queue(maxsize=8)
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        if self.size >= CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.parts:
            self.queue.put(b"".join(self.parts))
            self.parts, self.size = [], 0


def _open_dir(root_fd: int, rel: str) -> int:
    """A directory of the context, opened component by component without following a link
    (a directory swapped for a link since it was listed names nothing outside the context)."""
    fd = os.dup(root_fd)
    for part in rel.split("/") if rel else ():
        try:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        finally:
            os.close(fd)
        fd = nxt
    return fd


def _entries(ctx, root_fd: int, dockerfile_rel: str | None):
    """(rel path, lstat, its directory's fd, its name) of every entry to send, parents first;
    the Dockerfile and .dockerignore always (the daemon reads them, as docker's CLI sends them:
    also from an ignored directory, which is then sent with nothing else), ignored ones never."""
    always = {".dockerignore", dockerfile_rel}
    parts = (dockerfile_rel or "").split("/")[:-1]
    always.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            fd = _open_dir(root_fd, rel)
        except OSError as err:
            raise RemoteError(f"cannot read the build context: {rel or '.'}: {err.strerror}") from None
        try:
            children = []
            for name in sorted(os.listdir(fd)):
                child = f"{rel}/{name}" if rel else name
                if child not in always and ctx.ignored(child):
                    continue
                try:
                    st = os.lstat(name, dir_fd=fd)
                except FileNotFoundError:
                    continue
                children.append((child, st, name))
            for child, st, name in children:
                yield child, st, fd, name
        finally:
            os.close(fd)
        stack.extend(child for child, st, _name in reversed(children) if stat.S_ISDIR(st.st_mode))


def context_tar(root: str, dockerfile: str | None, dockerfile_rel: str | None):
    """The tar of the context, as chunks (written by a thread, at most a few chunks ahead)."""
    import threading

    pipe = _Pipe()

    def work():
        try:
            _write_tar(root, dockerfile, dockerfile_rel, pipe)
            pipe.flush()
            pipe.queue.put(None)
        except BaseException as err:  # noqa: BLE001 - handed to the sending thread
            pipe.queue.put(err)
    threading.Thread(target=work, name="cairn-context-tar", daemon=True).start()
    while True:
        item = pipe.queue.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def _write_tar(root: str, dockerfile: str | None, dockerfile_rel: str | None, pipe: _Pipe) -> None:
    from ..context.build_context import BuildContext

    ctx = BuildContext.open(root, dockerfile)
    tar = tarfile.open(fileobj=pipe, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed below
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for rel, st, dir_fd, name in _entries(ctx, root_fd, dockerfile_rel):
            _add(tar, rel, st, dir_fd, name)
    finally:
        os.close(root_fd)
    if dockerfile is not None and dockerfile_rel == REMOTE_DOCKERFILE:
        import io

        data = _read_dockerfile(dockerfile)
        info = tarfile.TarInfo(REMOTE_DOCKERFILE)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    tar.close()


def _add(tar, rel: str, st, dir_fd: int, name: str) -> None:
    """One entry: a directory, a link as a link, a regular file read through its fd."""
    info = tarfile.TarInfo(rel)
    info.mode, info.uid, info.gid, info.mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=dir_fd)
        tar.addfile(info)
    elif stat.S_ISREG(st.st_mode):
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError as err:
            raise RemoteError(f"cannot read {rel} in the build context: {err.strerror}") from None
        with os.fdopen(fd, "rb") as f:
            real = os.fstat(fd)
            if not stat.S_ISREG(real.st_mode):
                return  # (swapped for something else since the listing)
            info.size = real.st_size
            tar.addfile(info, _Bounded(f, real.st_size))
    # (sockets, fifos, devices: left out, as docker's CLI leaves them out)


class _Bounded:
    """A file read for tarfile: exactly size bytes (a file grown while sent is cut, one that
    shrank is padded with zeros, as tar needs), a chunk at a time."""

    def __init__(self, f, size: int):
        self.f, self.left = f, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.f.read(n) if n else b""  # (tarfile asks for at most 16 KiB at a time)
        data += b"\0" * (n - len(data))
        self.left -= n
        return data

    def readinto(self, buf) -> int:
        data = self.read(len(buf))
        buf[:len(data)] = data
        return len(data)


def _dockerfile(root: str, name: str | None) -> tuple[str, str]:
    """(the Dockerfile's path here, or - for stdin; its name in the tar)."""
    if name == "-":
        return "-", REMOTE_DOCKERFILE
    path = os.path.abspath(name) if name else os.path.join(root, "Dockerfile")
    real_root = os.path.realpath(root)
    parent = os.path.realpath(os.path.dirname(path))
    if parent == real_root or parent.startswith(real_root + "/"):
        return path, os.path.relpath(os.path.join(parent, os.path.basename(path)), real_root)
    return path, REMOTE_DOCKERFILE


def _read_dockerfile(path: str) -> bytes:
    from ..bounded import DOCKERFILE_LIMIT

    if path == "-":
        data = sys.stdin.buffer.read(DOCKERFILE_LIMIT + 1)
    else:
        with open(path, "rb") as f:
            data = f.read(DOCKERFILE_LIMIT + 1)
    if len(data) > DOCKERFILE_LIMIT:
        raise RemoteError(f"the Dockerfile is over {DOCKERFILE_LIMIT} bytes")
    return data


def stdin_body(named: str | None) -> tuple[object, str]:
    """`cairn build -`: (the body, the Dockerfile's name in it). A tar on stdin (plain or
    compressed) goes as it is, a chunk at a time; anything else is the Dockerfile, sent in a
    tar of its own (an empty context), as docker's CLI does."""
    import io

    from ..context.stdin_tar import _is_archive

    stdin = sys.stdin.buffer
    head = stdin.read(1024)
    if head and _is_archive(head):
        def chunks():
            yield head
            while data := stdin.read(CHUNK):
                yield data
        return chunks(), named or "Dockerfile"
    rest = stdin.read(16 << 20)
    data = head + rest
    from ..bounded import DOCKERFILE_LIMIT

    if len(data) > DOCKERFILE_LIMIT:
        raise RemoteError(f"the Dockerfile on stdin is over {DOCKERFILE_LIMIT} bytes")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return iter([out.getvalue()]), "Dockerfile"


def build(daemon, p: dict) -> int:
    from ..executor.progress import Progress

    root = p["context"]
    if "://" in root:
        raise RemoteError(f"cairn build {root}: not with a remote CAIRN_HOST (the daemon would fetch it: give "
                          f"a context directory)", 2)
    if root == "-":
        if p["dockerfile"] == "-":
            raise RemoteError("cairn build -f - -: stdin cannot hold both the context and the Dockerfile", 2)
        body, rel = stdin_body(p["dockerfile"])
    else:
        if not os.path.isdir(root):
            raise RemoteError(f"build context {root!r} is not a directory", 2)
        dockerfile, rel = _dockerfile(root, p["dockerfile"])
        if dockerfile != "-" and not os.path.isfile(dockerfile):
            raise RemoteError(f"cannot read the Dockerfile {p['dockerfile'] or dockerfile}: no such file", 1)
        body = context_tar(root, dockerfile, rel)
    query: dict = {"t": list(p["tags"]), "dockerfile": rel, "cairnprogress": 1, "rm": 1}
    args = {}
    for item in p["build_args"]:
        key, eq, value = item.partition("=")
        if eq:
            args[key] = value
        elif key in os.environ:  # (as the local build: a bare name takes this process's value)
            args[key] = os.environ[key]
    if args:
        query["buildargs"] = json.dumps(args)
    labels = dict(item.partition("=")[::2] for item in p["labels"])
    if labels:
        query["labels"] = json.dumps(labels)
    if p["target"]:
        query["target"] = p["target"]
    if p["no_cache"]:
        query["nocache"] = 1
    if p["pull"]:
        query["pull"] = 1
    if p["network"] and p["network"] != "default":
        query["networkmode"] = p["network"]
    mode = "quiet" if p["quiet"] else p["progress"]
    progress = Progress(mode, sys.stderr)
    try:
        code, image_id = _stream(daemon, query, body, progress)
    finally:
        progress.close()  # (also when the daemon's reply ends the command: the terminal's cursor comes back)
    if code is None:
        print("error: the cairn daemon ended the build without its result", file=sys.stderr)
        return 1
    if code == 0 and image_id:
        print(image_id)
        if p["iidfile"]:
            with open(p["iidfile"], "w") as f:
                f.write(image_id)
    return int(code)


def _stream(daemon, query: dict, body, progress):
    """POST /build; (the build's exit status or None, the image's ID) from its reply."""
    reply = daemon.request("POST", "/build", query, body, headers={"Content-Type": "application/x-tar"})
    code, image_id = None, None
    with reply:
        if reply.status != 200:
            message = reply.message(reply.read_all())
            raise RemoteError(message, 2 if reply.status == 400 else 1)
        for doc in reply.lines():
            if not isinstance(doc, dict):
                continue
            if "cairn" in doc and isinstance(doc["cairn"], dict):
                _show(progress, doc["cairn"])
            elif "cairnstderr" in doc:
                progress.close()
                print(doc["cairnstderr"], file=sys.stderr)
            elif "cairnexit" in doc:
                code = doc["cairnexit"]
            elif isinstance(doc.get("aux"), dict):
                image_id = doc["aux"].get("ID")
            elif "error" in doc and code is None:
                progress.close()
                print(f"error: {doc['error']}", file=sys.stderr)
                code = 1
    return code, image_id


def _show(progress, event: dict) -> None:
    """An event as the local Progress shows it (the live view, or its plain line)."""
    kind = event.get("type")
    if progress.mode == "quiet":
        return
    if progress.view is not None:
        progress.view.event(event)
        return
    n, name = event.get("step"), event.get("name", event.get("text", ""))
    if kind in ("stage", "step"):
        reason = event.get("reason")
        text = f"#{n} {name}" + (f" ({reason})" if reason else "")
    elif kind == "log":
        text = f"#{n} {event.get('text', '')}"
    elif kind == "done":
        source = event.get("source")
        word = (f"CACHED (from {source})" if source else "CACHED") if event.get("cached") else \
            f"DONE {float(event.get('seconds') or 0):.1f}s"
        text = f"#{n} {word}"
    elif kind == "warning":
        text = f"[warning] {event.get('text', '')}"
    elif kind == "info":
        text = str(event.get("text", ""))
    elif kind == "json" or progress.mode == "json":
        text = json.dumps(event)
    else:
        return
    if progress.mode == "json":
        text = json.dumps(event)
    progress.stream.write(text + "\n")
    progress.stream.flush()
