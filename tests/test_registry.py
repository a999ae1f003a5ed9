"""Pull, push, login against the real distribution registry (no auth; htpasswd over TLS;
token auth with a JWT server), read back with skopeo, and the faults: wrong credentials,
missing tags, corrupt manifests and blobs in the registry's storage, a registry killed in
the middle of a push, a registry that stops answering, 5xx answers and redirects."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from . import registry_server
from .conftest import cairn_cli, imported_store
from .http_proxy import Proxy
from .registry_server import PASSWORD, USER, Registry

pytestmark = pytest.mark.skipif(not registry_server.available(),
                                reason="docker-registry is not installed (tests/setup-system.sh installs it)")


@pytest.fixture(scope="module")
def src(tmp_path_factory, busybox_tar):
    """A store with busybox:local (CMD echo) imported."""
    yield from imported_store(tmp_path_factory, busybox_tar, "regsrc", 'CMD ["echo", "hello from the registry"]')


def _registry(tmp_path_factory, mode):
    r = Registry(tmp_path_factory.mktemp(f"reg-{mode}"), mode)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    yield from _registry(tmp_path_factory, "plain")


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    yield from _registry(tmp_path_factory, "htpasswd")


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    yield from _registry(tmp_path_factory, "token")


def cli(*args, root, env=None, stdin=None):
    return cairn_cli(*args, root=root, env=env, stdin=stdin)


def ok(res) -> str:
    assert res.returncode == 0, res.stderr.decode() + res.stdout.decode()
    return res.stdout.decode()


def fails(res, code=1) -> str:
    assert res.returncode == code, (res.returncode, res.stderr.decode(), res.stdout.decode())
    err = res.stderr.decode()
    assert "Traceback" not in err
    return err


def image_id(root, ref) -> str:
    return json.loads(ok(cli("inspect", ref, root=root)))[0]["Id"]


def skopeo(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["skopeo", *args], capture_output=True, timeout=120)


def store_blobs(root) -> set[str]:
    d = Path(root) / "blobs" / "sha256"
    return {p.name for p in d.iterdir()} if d.exists() else set()


def tmp_leftovers(root) -> list[str]:
    return [p.name for p in (Path(root) / "tmp").iterdir()]


# -- no auth --------------------------------------------------------------------------------

def test_push_is_read_by_skopeo_and_pulls_back(plain, src, tmp_path):
    ref = f"{plain.host}/app/busybox:1"
    out = ok(cli("push", "--metadata-file", str(tmp_path / "m.json"), "busybox:local", ref, root=src))
    digest = out.split("digest: ")[1].split()[0]
    assert json.loads((tmp_path / "m.json").read_text())["containerimage.digest"] == digest
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}")
    assert raw.returncode == 0, raw.stderr
    assert "sha256:" + hashlib.sha256(raw.stdout).hexdigest() == digest
    manifest = json.loads(raw.stdout)
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    copied = skopeo("copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{tmp_path / 'layout'}:x")
    assert copied.returncode == 0, copied.stderr  # skopeo verifies every blob's digest

    again = cli("push", "busybox:local", ref, root=src)
    assert digest in ok(again)
    assert "Layer already exists" in again.stderr.decode() and "Pushed" not in again.stderr.decode()
    other = cli("push", "busybox:local", f"{plain.host}/other/copy:1", root=src)
    ok(other)
    assert "Mounted" in other.stderr.decode()

    fresh = tmp_path / "fresh"
    pulled = cli("pull", ref, root=fresh)
    assert ok(pulled).strip() == ref
    assert f"Digest: {digest}" in pulled.stderr.decode()
    assert image_id(fresh, ref) == image_id(src, "busybox:local")  # same config: same image ID
    assert "up to date" in cli("pull", ref, root=fresh).stderr.decode()


def test_pulled_image_runs(plain, src, tmp_path):
    ref = f"{plain.host}/app/runme:1"
    ok(cli("push", "busybox:local", ref, root=src))
    fresh = tmp_path / "fresh"
    res = cli("run", "--rm", "--network", "none", ref, root=fresh)  # pulls what the store lacks, as docker run
    assert ok(res) == "hello from the registry\n"
    assert "Unable to find image" in res.stderr.decode()
    res = cli("run", "--rm", "--network", "none", "--pull", "never", f"{plain.host}/app/absent:1", root=fresh)
    assert "no such image" in fails(res, 125)  # docker run's status for its own errors
    res = cli("run", "--rm", "--network", "none", f"{plain.host}/app/absent:1", root=fresh)
    assert "no such image" in fails(res, 125) and "MANIFEST_UNKNOWN" in res.stderr.decode()


def test_pull_chooses_the_platform_from_a_multi_platform_index(plain, src, tmp_path):
    """An index pushed by `skopeo copy --all`: amd64 and arm64 configs over the same layer."""
    layout = tmp_path / "layout"
    ok(cli("save", "--format", "oci", "-o", str(tmp_path / "img.tar"), "busybox:local", root=src))
    layout.mkdir()
    with tarfile.open(tmp_path / "img.tar") as tf:
        tf.extractall(layout)
    index = json.loads((layout / "index.json").read_text())
    blobs = layout / "blobs" / "sha256"
    amd_desc = index["manifests"][0]
    manifest = json.loads((blobs / amd_desc["digest"].split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())

    def put(data: bytes) -> str:
        h = hashlib.sha256(data).hexdigest()
        (blobs / h).write_bytes(data)
        return "sha256:" + h

    arm_config = json.dumps({**config, "architecture": "arm64", "variant": "v8"}).encode()
    arm_manifest = json.dumps({**manifest, "config": {**manifest["config"], "digest": put(arm_config),
                                                      "size": len(arm_config)}}).encode()
    entries = [
        {"mediaType": amd_desc["mediaType"], "digest": amd_desc["digest"], "size": amd_desc["size"],
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": amd_desc["mediaType"], "digest": put(arm_manifest), "size": len(arm_manifest),
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    ]
    index_type = "application/vnd.oci.image.index.v1+json"
    nested = json.dumps({"schemaVersion": 2, "mediaType": index_type, "manifests": entries}).encode()
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": index_type, "manifests": [
        {"mediaType": index_type, "digest": put(nested), "size": len(nested),
         "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))
    ref = f"{plain.host}/multi/busybox:1"
    copied = skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:multi", f"docker://{ref}")
    assert copied.returncode == 0, copied.stderr

    host = tmp_path / "host"
    ok(cli("pull", ref, root=host))
    assert json.loads(ok(cli("inspect", ref, root=host)))[0]["Architecture"] == "amd64"
    arm = tmp_path / "arm"
    ok(cli("pull", "--platform", "linux/arm64", ref, root=arm))
    assert json.loads(ok(cli("inspect", ref, root=arm)))[0]["Architecture"] == "arm64"
    err = fails(cli("pull", "--platform", "linux/s390x", ref, root=tmp_path / "none"))
    assert "no image for linux/s390x" in err and "linux/amd64" in err and "linux/arm64/v8" in err
    assert fails(cli("pull", "--platform", "linux", ref, root=tmp_path / "none"), 2)


def test_pull_by_digest_makes_no_tag(plain, src, tmp_path):
    ref = f"{plain.host}/app/bydigest:1"
    digest = ok(cli("push", "-q", "busybox:local", ref, root=src)).strip()
    fresh = tmp_path / "fresh"
    ok(cli("pull", f"{plain.host}/app/bydigest@{digest}", root=fresh))
    listing = ok(cli("images", root=fresh))
    assert "<none>" in listing and ":1" not in listing
    ok(cli("pull", f"{plain.host}/app/bydigest:1@{digest}", root=fresh))


def test_missing_repository_tag_and_bad_reference(plain, tmp_path):
    root = tmp_path / "s"
    err = fails(cli("pull", f"{plain.host}/no/such:1", root=root))
    assert "NAME_UNKNOWN" in err or "MANIFEST_UNKNOWN" in err
    assert ok(cli("images", "-q", root=root)) == ""
    assert "lowercase" in fails(cli("pull", f"{plain.host}/Upper/Case:1", root=root), 2)
    assert "invalid" in fails(cli("pull", "bad::ref", root=root), 2)
    assert "digest reference" in fails(cli("push", "busybox", f"{plain.host}/x@sha256:{'0' * 64}",
                                           root=root), 2)


def _manifest_file(registry: Registry, repo: str, tag: str) -> Path:
    link = registry.storage / f"docker/registry/v2/repositories/{repo}/_manifests/tags/{tag}/current/link"
    return registry.blob_path(link.read_text().strip())


def test_a_manifest_that_does_not_match_its_digest_is_refused(plain, src, tmp_path):
    ref = f"{plain.host}/corrupt/manifest:1"
    # gzip: blobs of its own, as the registry shares identical blobs between repositories
    digest = ok(cli("push", "-q", "--compression", "gzip", "busybox:local", ref, root=src)).strip()
    path = _manifest_file(plain, "corrupt/manifest", "1")
    data = path.read_bytes()
    assert b"tar+gzip" in data  # still a valid manifest after the edit, so the registry serves it
    path.write_bytes(data.replace(b"tar+gzip", b"tar+zstd"))
    root = tmp_path / "s"
    for pulled in (ref, f"{plain.host}/corrupt/manifest@{digest}"):
        err = fails(cli("pull", pulled, root=root))
        assert "does not match" in err
    assert ok(cli("images", "-q", root=root)) == ""


def test_a_corrupt_blob_in_the_registry_is_refused_and_nothing_is_kept(plain, src, tmp_path):
    ref = f"{plain.host}/corrupt/blob:1"
    ok(cli("push", "--compression", "none", "busybox:local", ref, root=src))  # blobs no other test uses
    manifest = json.loads(_manifest_file(plain, "corrupt/blob", "1").read_bytes())
    layer = manifest["layers"][0]["digest"]
    path = plain.blob_path(layer)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    root = tmp_path / "s"
    err = fails(cli("pull", ref, root=root))
    assert "corrupt" in err and layer in err
    assert ok(cli("images", "-q", root=root)) == ""
    assert layer.split(":")[1] not in store_blobs(root)
    assert tmp_leftovers(root) == []
    ok(cli("store", "check", root=root))


def test_transient_errors_and_dropped_streams_are_retried(plain, src, tmp_path):
    ref_path = "flaky/busybox:1"
    ok(cli("push", "busybox:local", f"{plain.host}/{ref_path}", root=src))
    with Proxy(plain.port, fail_first=2, drop_first_blob=True) as proxy:
        root = tmp_path / "s"
        ok(cli("pull", f"{proxy.host}/{ref_path}", root=root))
        assert proxy.failed == 2 and proxy.dropped == 1
    with Proxy(plain.port, fail_always=True) as proxy:
        err = fails(cli("pull", f"{proxy.host}/{ref_path}", root=tmp_path / "t",
                        env={"CAIRN_REGISTRY_TIMEOUT": "5"}))
        assert "503" in err or "attempts" in err


def test_a_failed_streaming_upload_falls_back_to_the_stored_blob(plain, busybox_tar, tmp_path):
    """A fresh push streams each layer while compressing it; when that PATCH fails, the blob
    is finished in the store and uploaded from there."""
    root = tmp_path / "s"
    ok(cli("import", str(busybox_tar), "fresh:1", root=root))
    with Proxy(plain.port, fail_method="PATCH") as proxy:
        ref = f"{proxy.host}/fallback/busybox:1"
        res = cli("push", "--compression", "gzip", "fresh:1", ref, root=root)
        ok(res)
        assert proxy.failed == 1
    copied = skopeo("copy", "--src-tls-verify=false", f"docker://{plain.host}/fallback/busybox:1",
                    f"oci:{tmp_path / 'check'}:x")
    assert copied.returncode == 0, copied.stderr


def test_redirects_never_carry_credentials_to_another_host(token, src, tmp_path):
    """Blob GETs answered with a 307 to another origin (as registries do to S3 or a CDN)."""
    home = tmp_path / "home"
    env = token.env(home)
    ok(cli("login", "-u", USER, "--password-stdin", token.host, env=env, stdin=PASSWORD.encode(), root=src))
    ok(cli("push", "busybox:local", f"{token.host}/redirect/busybox:1", env=env, root=src))
    with Proxy(token.port, redirect_blobs_to=token.storage) as proxy:
        # The proxy is another host: log in there too, so requests to it carry a token.
        ok(cli("login", "-u", USER, "--password-stdin", proxy.host, env=env, stdin=PASSWORD.encode(), root=src))
        ok(cli("pull", f"{proxy.host}/redirect/busybox:1", env=env, root=tmp_path / "s"))
        assert proxy.redirected >= 2
        assert proxy.cdn_authorization == []  # the CDN never saw an Authorization header
        assert any(h.startswith("Bearer ") for h in proxy.seen_authorization)


def test_a_registry_that_stops_answering_times_out(plain, src, tmp_path):
    ref = f"{plain.host}/slow/busybox:1"
    ok(cli("push", "busybox:local", ref, root=src))
    os.killpg(plain.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        err = fails(cli("pull", "--registry-timeout", "0.5", ref, root=tmp_path / "s"))
        assert time.monotonic() - t0 < 60
        assert "timed out" in err.lower() or "timeout" in err.lower()
    finally:
        os.killpg(plain.proc.pid, signal.SIGCONT)
    ok(cli("pull", ref, root=tmp_path / "s"))


def _big_image(tmp_path, root) -> str:
    """An image with 3 layers of 24 MB of incompressible data each, imported and layered by a build."""
    tar = tmp_path / "big.tar"
    with tarfile.open(tar, "w") as tf:
        for i in range(3):
            data = os.urandom(24 << 20)
            info = tarfile.TarInfo(f"data{i}.bin")
            info.size = len(data)
            import io

            tf.addfile(info, io.BytesIO(data))
    ok(cli("import", str(tar), "big:1", root=root))
    return "big:1"


def test_a_registry_killed_during_a_push_recovers_on_the_next_push(tmp_path, src):
    registry = Registry(tmp_path / "reg", "plain")
    try:
        root = tmp_path / "store"
        _big_image(tmp_path, root)
        ref = f"{registry.host}/killed/big:1"
        env = dict(os.environ, CAIRN_ROOT=str(root), CAIRN_UPLOAD_CHUNK_SIZE=str(256 << 10),
                   CAIRN_REGISTRY_TIMEOUT="5")
        import sys

        proc = subprocess.Popen([sys.executable, "-m", "builder.cli", "push", "--compression", "none", "big:1", ref],
                                cwd=Path(__file__).parent.parent, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            uploads = registry.storage / "docker/registry/v2/repositories/killed/big/_uploads"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                sizes = [p.stat().st_size for p in uploads.glob("*/data")] if uploads.exists() else []
                if any(s > (1 << 20) for s in sizes):
                    break
                time.sleep(0.02)
            else:
                pytest.fail("the push never started uploading")
            registry.kill()
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 1, err.decode()
        assert "Traceback" not in err.decode() and "failed" in err.decode()
        registry.start()
        res = cli("push", "--compression", "none", "big:1", ref, root=root)
        ok(res)
        copied = skopeo("copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{tmp_path / 'check'}:x")
        assert copied.returncode == 0, copied.stderr
        fresh = tmp_path / "fresh"
        ok(cli("pull", ref, root=fresh))
        assert image_id(fresh, ref) == image_id(root, "big:1")
    finally:
        registry.close()


# -- htpasswd over TLS ------------------------------------------------------------------------

def test_tls_registry_needs_its_ca(tls, src, tmp_path):
    env = {"HOME": str(tmp_path / "bare"), "DOCKER_CONFIG": str(tmp_path / "bare" / ".docker")}
    err = fails(cli("pull", f"{tls.host}/x/y:1", root=tmp_path / "s", env=env))
    assert "certificate" in err.lower()


def test_wrong_password_is_refused_and_not_saved(tls, src, tmp_path):
    env = tls.env(tmp_path / "home")
    res = cli("login", "-u", USER, "--password-stdin", tls.host, env=env, stdin=b"not-the-password\n", root=src)
    err = fails(res)
    assert "wrong username or password" in err
    assert "not-the-password" not in err + res.stdout.decode()
    assert not (tmp_path / "home" / ".docker" / "config.json").exists()


def test_login_push_pull_logout_with_htpasswd(tls, src, tmp_path):
    env = tls.env(tmp_path / "home")
    ref = f"{tls.host}/private/busybox:1"
    assert "log in with `cairn login" in fails(cli("push", "busybox:local", ref, root=src, env=env))
    outputs = []
    res = cli("login", "-u", USER, "--password-stdin", tls.host, env=env, stdin=PASSWORD.encode() + b"\n", root=src)
    outputs.append(ok(res) + res.stderr.decode())
    assert "Login Succeeded" in outputs[-1]
    config = json.loads((tmp_path / "home" / ".docker" / "config.json").read_text())
    assert base64.b64decode(config["auths"][tls.host]["auth"]).decode() == f"{USER}:{PASSWORD}"
    assert oct((tmp_path / "home" / ".docker" / "config.json").stat().st_mode & 0o777) == "0o600"
    res = cli("push", "busybox:local", ref, root=src, env=env)
    outputs.append(ok(res) + res.stderr.decode())
    res = cli("pull", ref, root=tmp_path / "s", env=env)
    outputs.append(ok(res) + res.stderr.decode())
    assert PASSWORD not in "".join(outputs)
    assert skopeo("inspect", "--cert-dir", str(tmp_path / "home/.config/cairn/certs.d" / tls.host),
                  "--creds", f"{USER}:{PASSWORD}", f"docker://{ref}").returncode == 0
    assert "Removing login credentials" in ok(cli("logout", tls.host, root=src, env=env))
    assert "log in with" in fails(cli("pull", ref, root=tmp_path / "t", env=env))


def test_credential_helper_is_called_as_docker_calls_it(tls, src, tmp_path):
    home = tmp_path / "home"
    env = tls.env(home)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    vault = tmp_path / "vault.json"
    helper = bindir / "docker-credential-cairntest"
    helper.write_text(f"""#!/usr/bin/env python3
import json, sys
path = {str(vault)!r}
try:
    vault = json.load(open(path))
except FileNotFoundError:
    vault = {{}}
action, data = sys.argv[1], sys.stdin.read()
if action == "store":
    entry = json.loads(data); vault[entry["ServerURL"]] = entry
elif action == "get":
    if data.strip() not in vault:
        print("credentials not found in native keychain"); sys.exit(1)
    entry = vault[data.strip()]
    print(json.dumps({{"ServerURL": entry["ServerURL"], "Username": entry["Username"], "Secret": entry["Secret"]}}))
elif action == "erase":
    vault.pop(data.strip(), None)
json.dump(vault, open(path, "w"))
""")
    helper.chmod(0o755)
    (home / ".docker").mkdir(parents=True, exist_ok=True)
    (home / ".docker" / "config.json").write_text(json.dumps({"credsStore": "cairntest"}))
    env["PATH"] = f"{bindir}:{os.environ['PATH']}"
    ok(cli("login", "-u", USER, "--password-stdin", tls.host, env=env, stdin=PASSWORD.encode(), root=src))
    assert json.loads(vault.read_text())[tls.host]["Secret"] == PASSWORD
    assert PASSWORD not in (home / ".docker" / "config.json").read_text()
    ok(cli("push", "busybox:local", f"{tls.host}/helper/busybox:1", root=src, env=env))
    ok(cli("logout", tls.host, root=src, env=env))
    assert json.loads(vault.read_text()) == {}


# -- token auth -------------------------------------------------------------------------------

def test_token_auth_login_push_pull(token, src, tmp_path):
    env = token.env(tmp_path / "home")
    ref = f"{token.host}/tok/busybox:1"
    assert "log in with `cairn login" in fails(cli("push", "busybox:local", ref, root=src, env=env))
    err = fails(cli("login", "-u", USER, "--password-stdin", token.host, env=env, stdin=b"nope", root=src))
    assert "wrong username or password" in err
    ok(cli("login", "-u", USER, "--password-stdin", token.host, env=env, stdin=PASSWORD.encode(), root=src))
    before = len(token.token_server.issued)
    ok(cli("push", "busybox:local", ref, root=src, env=env))
    issued = token.token_server.issued[before:]
    assert (USER, ("repository:tok/busybox:pull,push",)) in issued
    assert len(issued) <= 3  # one per scope (plus the first challenge), cached across threads
    ok(cli("pull", ref, root=tmp_path / "s", env=env))
    anonymous = {"HOME": str(tmp_path / "anon"), "DOCKER_CONFIG": str(tmp_path / "anon" / ".docker")}
    err = fails(cli("pull", ref, root=tmp_path / "t", env=anonymous))
    assert "UNAUTHORIZED" in err or "denied" in err


# -- builds -----------------------------------------------------------------------------------

def _pushed_base_and_context(src, base: str, tmp_path, files: dict[str, str], steps: str):
    """Push busybox:local as `base`; a build context with `files` and `FROM base` + `steps`."""
    ok(cli("push", "busybox:local", base, root=src))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for name, text in files.items():
        (ctx / name).write_text(text)
    (ctx / "Dockerfile").write_text(f"FROM {base}\n{steps}")
    return ctx


def test_from_pulls_and_build_pushes(plain, src, tmp_path):
    base = f"{plain.host}/base/busybox:1"
    ctx = _pushed_base_and_context(src, base, tmp_path, {"greeting": "hi\n"},
                                   'COPY greeting /greeting\nCMD ["cat", "/greeting"]\n')
    root = tmp_path / "s"
    app = f"{plain.host}/built/app:1"
    res = cli("build", "--push", "-t", app, "--metadata-file", str(tmp_path / "m.json"), str(ctx), root=root)
    digest = ok(res).strip()
    assert f"pulling {base}" in res.stderr.decode()
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["containerimage.digest"] == digest
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{app}")
    assert "sha256:" + hashlib.sha256(raw.stdout).hexdigest() == digest
    fresh = tmp_path / "fresh"
    ok(cli("pull", app, root=fresh))
    assert ok(cli("run", "--rm", "--network", "none", app, root=fresh)) == "hi\n"
    assert "needs at least one -t" in fails(cli("build", "--push", str(ctx), root=root), 2)


def test_build_pull_notices_a_moved_base_tag(plain, src, tmp_path):
    base = f"{plain.host}/base/moving:1"
    ctx = _pushed_base_and_context(src, base, tmp_path, {"f": "x\n"}, "COPY f /f\n")
    root = tmp_path / "s"
    ok(cli("build", "-t", "app:1", str(ctx), root=root))

    def layers() -> int:
        return len(json.loads(ok(cli("inspect", "app:1", root=root)))[0]["RootFS"]["Layers"])

    assert layers() == 2
    ok(cli("push", "app:1", base, root=root))  # the base tag now names a two-layer image
    ok(cli("build", "-t", "app:1", str(ctx), root=root))
    assert layers() == 2  # the store's copy of the base is used without --pull
    res = cli("build", "--pull", "-t", "app:1", str(ctx), root=root)
    ok(res)
    assert layers() == 3
