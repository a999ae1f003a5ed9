"""Cache mounts that travel (issue 18): runner 1 builds a Python project whose RUN installs
with `pip install` under `--mount=type=cache,target=/root/.cache/pip` and exports its cache
with `cache-mounts=true` to the real distribution registry and to a directory; runner 2, a
fresh store, imports the cache, its RUN misses (the requirements changed) and pip installs
from the restored cache mount: the package index on 127.0.0.1 serves the wheel once in all
(to runner 1), never to runner 2, neither through the registry nor through the directory."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sqlite3
import subprocess
import threading
import urllib.request
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from . import registry_server
from .conftest import cairn_cli, remove_test_bridge
from .registry_server import Registry

pytestmark = pytest.mark.skipif(not registry_server.available(),
                                reason="docker-registry is not installed (tests/setup-system.sh installs it)")

WHEEL = "tinypkg-1.0-py3-none-any.whl"


def make_wheel() -> bytes:
    """A pure-Python wheel, zipped by hand."""
    files = {"tinypkg/__init__.py": b"HELLO = 'tinypkg says hello'\n",
             "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
             "tinypkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
                                             b"Tag: py3-none-any\n"}
    record = "".join(f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
                     f"{len(data)}\n" for name, data in files.items()) + "tinypkg-1.0.dist-info/RECORD,,\n"
    files["tinypkg-1.0.dist-info/RECORD"] = record.encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


class PackageIndex:
    """A PEP 503 "simple" index with one wheel, served as PyPI serves files (cacheable for
    a year), counting the downloads of the wheel."""

    def __init__(self):
        wheel = make_wheel()
        page = (f'<html><body><a href="/files/{WHEEL}#sha256={hashlib.sha256(wheel).hexdigest()}">{WHEEL}</a>'
                "</body></html>").encode()
        self.wheel_gets = 0
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.rstrip("/") == "/simple/tinypkg":
                    body, kind, cache = page, "text/html", "max-age=0"
                elif self.path == f"/files/{WHEEL}":
                    index.wheel_gets += 1
                    body, kind, cache = wheel, "application/octet-stream", "max-age=365000000, immutable, public"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Cache-Control", cache)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def python_base() -> Path:
    from .corpus.bases import BASES, cache_dir, extra_cas, key

    tar = cache_dir() / f"python_3.11-slim-{key(BASES['python:3.11-slim'], extra_cas())}.tar"
    if not tar.exists():
        pytest.skip("no cached python:3.11-slim base (python -m tests.corpus.bases python:3.11-slim makes it)")
    return tar


@pytest.fixture(scope="module")
def runners(tmp_path_factory):
    """Two fresh stores (runner 1 and runner 2) with python:3.11-slim, a registry, an index."""
    import os

    if os.geteuid() != 0:
        pytest.skip("builds need root")
    tar = python_base()
    one, two = (tmp_path_factory.mktemp(f"runner{n}") for n in (1, 2))
    res = cairn_cli("import", "-c", "ENV LANG=C.UTF-8", str(tar), "python:3.11-slim", root=one)
    assert res.returncode == 0, res.stderr.decode()
    # runner 2 starts from the same runner image, a store that holds only the base (its
    # blobs and snapshots linked, its database copied: as fast as a second import is slow)
    for part in ("blobs", "snapshots"):
        subprocess.run(["cp", "-al", str(one / part), str(two / part)], check=True)
    with sqlite3.connect(one / "cairn.db") as src, sqlite3.connect(two / "cairn.db") as dst:
        src.backup(dst)
    roots = [one, two]
    registry = Registry(tmp_path_factory.mktemp("reg-mounts"), "plain")
    index = PackageIndex()
    try:
        yield roots, registry, index
    finally:
        index.close()
        registry.close()
        remove_test_bridge()


DOCKERFILE = """\
FROM python:3.11-slim
COPY requirements.txt /requirements.txt
RUN --network=host --mount=type=cache,target=/root/.cache/pip \\
    pip install --disable-pip-version-check --root-user-action=ignore --index-url {index} --trusted-host {host} \\
        -r /requirements.txt \\
    && python -c "import tinypkg; print(tinypkg.HELLO)"
"""


def build(root, ctx: Path, requirement: str, *args: str) -> str:
    (ctx / "requirements.txt").write_text(requirement)
    res = cairn_cli("build", "--progress", "plain", "--allow", "network.host", *args, str(ctx), root=root)
    out = res.stdout.decode() + res.stderr.decode()
    assert res.returncode == 0, out[-3000:]
    assert "tinypkg says hello" in out, out[-3000:]  # the RUN ran (a miss), pip installed the package
    return out


def test_a_second_runners_pip_install_downloads_nothing(runners, tmp_path):
    (one, two), registry, index = runners
    ctx = tmp_path / "project"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(index=index.url, host=index.url.split("/")[2]))
    ref = f"{registry.host}/cache/pip:main"
    local = tmp_path / "cache-dir"

    build(one, ctx, "tinypkg\n", "--cache-to", f"type=registry,ref={ref},cache-mounts=true",
          "--cache-to", f"type=local,dest={local},cache-mounts=true")
    assert index.wheel_gets == 1

    # runner 2, through the registry: the cache's record of the RUN is not its key (the
    # requirements changed), so pip runs, and finds the wheel in the restored cache mount
    out = build(two, ctx, "tinypkg  # pinned later\n", "--cache-from", f"type=registry,ref={ref}")
    assert "cache mount '/root/.cache/pip': restored from" in out, out[-3000:]
    assert index.wheel_gets == 1, out[-3000:]

    # runner 2 again after `cache prune --all` (a fresh runner once more), through the directory
    pruned = cairn_cli("cache", "prune", "--all", root=two)
    assert pruned.returncode == 0 and "1 cache mounts" in pruned.stdout.decode(), pruned.stdout
    out = build(two, ctx, "tinypkg  # pinned soon\n", "--cache-from", f"type=local,src={local}")
    assert "restored from local:" in out and index.wheel_gets == 1, out[-3000:]

    # the artifact in the registry lists the mount and holds its layer (read without cairn)
    with urllib.request.urlopen(urllib.request.Request(
            f"http://{ref.split('/')[0]}/v2/cache/pip/manifests/main",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})) as r:
        manifest = json.loads(r.read())
    with urllib.request.urlopen(f"http://{registry.host}/v2/cache/pip/blobs/{manifest['config']['digest']}") as r:
        mounts = json.loads(r.read())["cache_mounts"]
    assert [(m["id"], m["sharing"], m["uid"], m["mode"]) for m in mounts] == [("/root/.cache/pip", "shared", 0, 0o755)]
    assert mounts[0]["layer"]["digest"] in [layer["digest"] for layer in manifest["layers"]]


def test_a_cache_mount_over_the_limit_is_not_exported(runners, tmp_path):
    """cache-mounts-limit bounds each mount's tar; the build says which mount it left out."""
    (one, _), _, index = runners
    ctx = tmp_path / "project"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(index=index.url, host=index.url.split("/")[2]))
    (ctx / "requirements.txt").write_text("tinypkg\n")
    dest = tmp_path / "small"
    res = cairn_cli("build", "--allow", "network.host", "--cache-to",
                    f"type=local,dest={dest},cache-mounts=true,cache-mounts-limit=4k", str(ctx), root=one)
    err = res.stderr.decode()
    assert res.returncode == 0 and "cache mount '/root/.cache/pip' is not exported: larger than 4 KiB" in err, err
    index = json.loads((dest / "index.json").read_text())
    manifest = json.loads((dest / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]).read_text())
    config = json.loads((dest / "blobs" / "sha256" / manifest["config"]["digest"][7:]).read_text())
    assert config["records"] and "cache_mounts" not in config


@pytest.mark.parametrize("flag, value, message", [
    ("--cache-to", "type=inline,cache-mounts=true", "cannot carry cache mounts"),
    ("--cache-to", "type=local,dest=/tmp/x,cache-mounts=yes", "cache-mounts must be true or false"),
    ("--cache-from", "type=local,src=/tmp/x,cache-mounts-limit=lots", "cache-mounts-limit must be a size"),
])
def test_bad_cache_mount_fields_are_usage_errors(tmp_path, flag, value, message):
    res = cairn_cli("build", flag, value, str(tmp_path), root=tmp_path / "s")
    assert res.returncode == 2 and message in res.stderr.decode(), res.stderr

