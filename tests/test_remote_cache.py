"""A build cache shared through the real distribution registry (and through a directory):
runner A exports, runner B (an empty store) imports. B hits every step without running a
RUN, and downloads no layer when its output is a push to the same registry (counted by a
forwarding proxy in front of the registry)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from . import registry_server
from .conftest import REPO, cairn_cli, imported_store
from .http_proxy import Proxy
from .registry_server import Registry

pytestmark = pytest.mark.skipif(not registry_server.available(),
                                reason="docker-registry is not installed (tests/setup-system.sh installs it)")


@pytest.fixture(scope="module")
def src(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "rcsrc")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    r = Registry(tmp_path_factory.mktemp("reg-cache"), "plain")
    try:
        yield r
    finally:
        r.close()


@pytest.fixture(scope="module")
def proxy(registry):
    """Every cairn in these tests talks to the registry through this proxy, which logs requests."""
    with Proxy(registry.port) as p:
        yield p


@pytest.fixture(scope="module")
def base(proxy, src):
    ref = f"{proxy.host}/base/busybox:1"
    ok(cairn_cli("push", "busybox:local", ref, root=src))
    return ref


def ok(res) -> str:
    assert res.returncode == 0, res.stderr.decode() + res.stdout.decode()
    return res.stdout.decode()


DOCKERFILE = """\
FROM {base} AS deps
COPY deps.txt /deps.txt
RUN sort /deps.txt > /deps.sorted && echo ran-deps
FROM {base}
WORKDIR /app
COPY --from=deps /deps.sorted /app/deps
COPY src/ /app/src/
RUN ls /app/src > /app/listing && echo ran-app
CMD ["cat", "/app/listing"]
"""


def context(tmp_path: Path, base: str, name: str = "ctx", extra: str = "") -> Path:
    ctx = tmp_path / name
    (ctx / "src").mkdir(parents=True)
    (ctx / "deps.txt").write_text("zlib\nacme\n")
    (ctx / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    (ctx / "src" / "util.c").write_text("int util;\n")
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=base) + extra)
    return ctx


def build(root, ctx, *args, meta: Path | None = None, env=None):
    extra = ["--metadata-file", str(meta)] if meta else []
    return cairn_cli("build", "--progress", "plain", *extra, *args, str(ctx), root=root, env=env)


def ran(err: str, word: str) -> bool:
    """Whether a RUN printed `word` (its output lines are `#STEP word`)."""
    return re.search(rf"^#\d+ {word}$", err, re.M) is not None


def counted_steps(meta: Path) -> list[dict]:
    return [s for s in json.loads(meta.read_text())["steps"]
            if s["instruction"].split()[0] in ("RUN", "COPY", "ADD")]


def layer_downloads(proxy: Proxy, since: int) -> list[tuple]:
    """Blob GETs of more than a config's size (configs and cache configs are small)."""
    return [e for e in proxy.log[since:] if e[0] == "GET" and "/blobs/" in e[1] and e[3] > 64 << 10]


def blob_gets(proxy: Proxy, since: int) -> list[tuple]:
    return [e for e in proxy.log[since:] if e[0] == "GET" and "/blobs/" in e[1]]


def read_cache(proxy: Proxy, ref: str) -> list[dict]:
    """The records at a cache ref, read with skopeo (not with cairn)."""
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                         capture_output=True, check=True).stdout
    manifest = json.loads(raw)
    assert manifest["artifactType"] == "application/vnd.cairn.cache.v1"
    config = subprocess.run(["skopeo", "inspect", "--config", "--raw", "--tls-verify=false", f"docker://{ref}"],
                            capture_output=True)
    if config.returncode == 0 and config.stdout.strip():
        return json.loads(config.stdout)["records"]
    import urllib.request

    host, _, rest = ref.partition("/")
    repo = rest.rsplit(":", 1)[0]
    with urllib.request.urlopen(f"http://{host}/v2/{repo}/blobs/{manifest['config']['digest']}") as r:
        return json.loads(r.read())["records"]


def test_runner_b_hits_everything_and_downloads_no_layer(tmp_path, proxy, base):
    cache = f"{proxy.host}/cache/app:buildcache"
    ctx = context(tmp_path, base)
    a_meta = tmp_path / "a.json"
    res = build(tmp_path / "runner-a", ctx, "--cache-to", f"type=registry,ref={cache},mode=max",
                "--push", "-t", f"{proxy.host}/app/app:a", meta=a_meta)
    ok(res)
    assert "exported" in res.stderr.decode()

    since = len(proxy.log)
    b_meta = tmp_path / "b.json"
    res = build(tmp_path / "runner-b", ctx, "--cache-from", f"type=registry,ref={cache}",
                "--push", "-t", f"{proxy.host}/app/app:b", meta=b_meta)
    ok(res)
    err = res.stderr.decode()
    assert not ran(err, "ran-deps") and not ran(err, "ran-app")  # no RUN executed
    steps = counted_steps(b_meta)
    assert len(steps) == 5 and all(s["cached"] for s in steps)
    assert {s["cache_source"] for s in steps} == {cache.removeprefix("")}  # every hit came from the cache ref
    assert f"CACHED (from {cache})" in err
    assert json.loads(b_meta.read_text())["hit_rate"] == 1.0
    assert layer_downloads(proxy, since) == [], "runner B downloaded layers"
    assert len(blob_gets(proxy, since)) <= 3  # the cache config and the base image's config

    # what B pushed is complete (its layers were mounted from the cache and base repositories)
    b_ref = f"{proxy.host}/app/app:b"
    copied = subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{b_ref}",
                             f"oci:{tmp_path / 'b-layout'}:x"], capture_output=True)
    assert copied.returncode == 0, copied.stderr
    assert ok(cairn_cli("run", "--rm", "--network", "none", b_ref, root=tmp_path / "runner-c")) == "main.c\nutil.c\n"
    # B's store is consistent although it holds none of the layers, and an output that needs
    # the bytes (a docker archive) fetches them then
    ok(cairn_cli("store", "check", root=tmp_path / "runner-b"))
    since = len(proxy.log)
    ok(cairn_cli("save", "-o", str(tmp_path / "b.tar"), f"{proxy.host}/app/app:b", root=tmp_path / "runner-b"))
    assert layer_downloads(proxy, since) or blob_gets(proxy, since)
    inspected = subprocess.run(["skopeo", "inspect", f"docker-archive:{tmp_path / 'b.tar'}"], capture_output=True)
    assert inspected.returncode == 0, inspected.stderr

    # after a one-file edit, a fresh runner hits every step before the edited COPY
    (ctx / "src" / "util.c").write_text("int util = 1;\n")
    c_meta = tmp_path / "c.json"
    res = build(tmp_path / "runner-d", ctx, "--cache-from", cache, meta=c_meta)
    ok(res)
    got = [(s["instruction"].split()[0] + " " + s["instruction"].split()[-1], s["cached"]) for s in counted_steps(c_meta)]
    assert got == [("COPY /deps.txt", True), ("RUN ran-deps", True), ("COPY /app/deps", True),
                   ("COPY /app/src/", False), ("RUN ran-app", False)]
    explanation = counted_steps(c_meta)[3]["explanation"]
    assert "util.c" in explanation, explanation


def test_mode_min_exports_only_the_images_layers(tmp_path, proxy, base):
    """mode=min: the image's steps with their layers; the deps stage's steps by their keys
    only (as BuildKit's min mode exports its dependencies' keys), with none of its layers."""
    ctx = context(tmp_path, base)
    for mode in ("min", "max"):
        ok(build(tmp_path / f"runner-{mode}", ctx, "--cache-to",
                 f"type=registry,ref={proxy.host}/cache/modes:{mode},mode={mode}"))
    records = {mode: read_cache(proxy, f"{proxy.host}/cache/modes:{mode}") for mode in ("min", "max")}
    with_layer = {mode: {r["position"] for r in rs if "layer" in r} for mode, rs in records.items()}
    deps = {p for p in with_layer["max"] if ":deps:" in p}
    assert deps and not (deps & with_layer["min"])
    assert {p for p in with_layer["max"] if ":1:" in p} == with_layer["min"]
    assert {r["position"] for r in records["min"] if r.get("keyonly")} == deps
    assert {r["key"] for r in records["min"]} == {r["key"] for r in records["max"]}
    assert not any("ran-deps" in json.dumps(r) for r in records["min"])  # the stage's commands stay out
    layers = {mode: {d["digest"] for d in json.loads(subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{proxy.host}/cache/modes:{mode}"],
        capture_output=True, check=True).stdout)["layers"]} for mode in ("min", "max")}
    assert len(layers["min"]) < len(layers["max"])  # (two runners: the RUN layers differ)


def test_concurrent_exports_keep_both_records(tmp_path, proxy, base):
    cache = f"{proxy.host}/cache/shared:1"
    procs = []
    for i in range(2):
        ctx = context(tmp_path, base, f"ctx{i}", extra=f'LABEL runner="{i}"\nRUN echo {i} > /which\n')
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "builder.cli", "--root", str(tmp_path / f"r{i}"), "build", "--metadata-file",
             str(tmp_path / f"m{i}.json"), "--cache-to", f"type=registry,ref={cache},mode=max", str(ctx)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
        assert "failed" not in err.decode()
    keys = {r["key"] for r in read_cache(proxy, cache)}
    for i in range(2):
        mine = {s["key"] for s in json.loads((tmp_path / f"m{i}.json").read_text())["steps"] if s["key"]}
        assert mine <= keys, f"runner {i} lost {len(mine - keys)} records"


def test_missing_and_broken_cache_sources_are_warnings(tmp_path, proxy, base, registry):
    ctx = context(tmp_path, base)
    res = build(tmp_path / "s1", ctx, "--cache-from", f"{proxy.host}/cache/nothing:here")
    ok(res)
    assert "no cache has been exported there yet" in res.stderr.decode()

    # a record whose layer the registry lacks: that step misses, with a warning
    cache = f"{proxy.host}/cache/lacking:1"
    meta = tmp_path / "a.json"
    ok(build(tmp_path / "s2", ctx, "--cache-to", f"type=registry,ref={cache},mode=max", meta=meta))
    records = read_cache(proxy, cache)
    victim = next(r for r in records if r["position"].endswith(":deps:1"))  # the deps RUN
    link = registry.storage / "docker/registry/v2/repositories/cache/lacking/_layers" / "sha256" / \
        victim["layer"]["digest"].split(":")[1]
    import shutil

    shutil.rmtree(link)
    meta_b = tmp_path / "b.json"
    res = build(tmp_path / "s3", ctx, "--cache-from", cache, meta=meta_b)
    ok(res)
    assert "does not hold it" in res.stderr.decode()
    assert ran(res.stderr.decode(), "ran-deps")
    assert [s["cached"] for s in counted_steps(meta_b)][:2] == [True, False]

    # a cache manifest whose config is not a cairn cache config
    res = build(tmp_path / "s4", ctx, "--cache-from", base)
    ok(res)
    assert "is not usable" in res.stderr.decode()


def test_a_failed_export_is_a_warning_unless_asked_otherwise(tmp_path, proxy, base):
    ctx = context(tmp_path, base)
    dead = "127.0.0.1:9/cache/dead:1"  # nothing listens on port 9 (discard)
    res = build(tmp_path / "s", ctx, "--cache-to", f"type=registry,ref={dead}", "--push", "-t",
                f"{proxy.host}/app/warned:1", "--registry-timeout", "2")
    ok(res)
    assert "cache export to" in res.stderr.decode() and "failed (the image is built)" in res.stderr.decode()
    res = build(tmp_path / "s", ctx, "--cache-to", f"type=registry,ref={dead},ignore-error=false")
    assert res.returncode == 1 and "cache export to" in res.stderr.decode()
    assert "Traceback" not in res.stderr.decode()


def test_local_directory_cache(tmp_path, base):
    ctx = context(tmp_path, base)
    layout = tmp_path / "ci-cache"
    ok(build(tmp_path / "a", ctx, "--cache-to", f"type=local,dest={layout},mode=max"))
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "latest"
    meta = tmp_path / "b.json"
    res = build(tmp_path / "b", ctx, "--cache-from", f"type=local,src={layout}", meta=meta)
    ok(res)
    assert all(s["cached"] for s in counted_steps(meta))
    assert {s["cache_source"] for s in counted_steps(meta)} == {f"local:{layout}"}
    assert not ran(res.stderr.decode(), "ran-deps") and not ran(res.stderr.decode(), "ran-app")

    # a corrupt cache config: a warning, and the build runs every step
    manifest_digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_text())
    config = layout / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]
    config.write_bytes(b"{not json" + config.read_bytes()[9:])
    res = build(tmp_path / "c", ctx, "--cache-from", f"type=local,src={layout}")
    ok(res)
    assert "is not usable" in res.stderr.decode() and "does not match its digest" in res.stderr.decode()
    assert ran(res.stderr.decode(), "ran-deps")


def test_inline_cache_rides_in_the_pushed_image(tmp_path, proxy, base):
    ctx = context(tmp_path, base)
    image = f"{proxy.host}/app/inline:1"
    # SOURCE_DATE_EPOCH makes the deps stage's RUN layer reproducible, so that the final
    # stage's COPY --from (keyed by its source's layers) can hit after the deps stage re-ran
    epoch = {"SOURCE_DATE_EPOCH": "1700000000"}
    ok(build(tmp_path / "a", ctx, "--cache-to", "type=inline", "--push", "-t", image, env=epoch))
    meta = tmp_path / "b.json"
    res = build(tmp_path / "b", ctx, "--cache-from", image, meta=meta, env=epoch)
    ok(res)
    steps = counted_steps(meta)
    cached = {s["instruction"].split()[-1]: s["cached"] for s in steps}
    # inline carries the image's own steps (mode=min): the deps stage runs again, the rest hits
    assert cached == {"/deps.txt": False, "ran-deps": False, "/app/deps": True, "/app/src/": True, "ran-app": True}
    assert "type=inline" in cairn_cli("build", "--cache-to", "type=inline", str(ctx), root=tmp_path / "c").stderr.decode()


def test_bad_cache_flags_are_usage_errors(tmp_path):
    for flag, value, message in [("--cache-to", "type=s3,ref=x", "type must be one of"),
                                 ("--cache-to", "type=registry", "needs ref=REF"),
                                 ("--cache-to", "type=registry,ref=a/b:1,mode=all", "mode must be min or max"),
                                 ("--cache-from", "type=local", "needs src=DIR"),
                                 ("--cache-to", "type=registry,ref=a/b:1,colour=red", "unknown field"),
                                 ("--cache-from", "type=registry,ref=Bad/Ref", "lowercase")]:
        res = cairn_cli("build", flag, value, str(tmp_path), root=tmp_path / "s")
        assert res.returncode == 2 and re.search(message, res.stderr.decode()), (value, res.stderr)


def test_key_only_records_never_make_the_images_layers(tmp_path, base):
    """A cache (hostile or just mode=min from another target) whose records are all key-only:
    the image's own steps run (their bytes are nowhere), the stages it copies from are
    built again when a step needs their files, and the image is whole."""
    ctx = context(tmp_path, base)
    layout = tmp_path / "forged"
    ok(build(tmp_path / "a", ctx, "--cache-to", f"type=local,dest={layout},mode=max"))
    blobs = layout / "blobs" / "sha256"
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_text())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_text())
    for record in config["records"]:
        if record.pop("layer", None):
            record["keyonly"] = True
    import hashlib

    def put(doc: dict) -> dict:
        data = json.dumps(doc).encode()
        (blobs / hashlib.sha256(data).hexdigest()).write_bytes(data)
        return {"digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}

    manifest["config"].update(put(config))
    manifest["layers"] = []
    index["manifests"][0].update(put(manifest))
    (layout / "index.json").write_text(json.dumps(index))

    meta = tmp_path / "b.json"
    res = build(tmp_path / "b", ctx, "--cache-from", f"type=local,src={layout}", "-o",
                f"type=local,dest={tmp_path / 'out'}", meta=meta)
    ok(res)
    assert ran(res.stderr.decode(), "ran-app") and ran(res.stderr.decode(), "ran-deps")
    assert not any(s["cached"] for s in counted_steps(meta) if s["stage"] != "deps")
    assert (tmp_path / "out" / "app" / "listing").read_text() == "main.c\nutil.c\n"
    assert (tmp_path / "out" / "app" / "deps").read_text() == "acme\nzlib\n"
