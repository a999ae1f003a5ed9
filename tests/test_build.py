"""`cairn build` (the executor's first cut) with real RUN containers, then `cairn run`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import REPO, cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "buildstore")


def build(root, context: Path, *args):
    return cairn_cli("build", "--progress", "plain", *args, str(context), root=root)


def run(root, *args):
    return cairn_cli("run", "--rm", "--network", "none", *args, root=root)


def write(ctx: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return ctx


def test_example_builds_and_runs(root):
    res = build(root, REPO / "examples" / "hello", "-t", "hello:test")
    assert res.returncode == 0, res.stderr
    out = run(root, "hello:test")
    assert out.returncode == 0 and out.stdout == b"hello from cairn\n"


def test_run_layers_whiteouts_env_args_and_config(root, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": (
        "FROM busybox:local\n"
        "ARG GREETING=hi\n"
        "ENV KEEP=kept\n"
        "RUN echo $GREETING-$KEEP > /made && mkdir -p /d && touch /d/gone /gone\n"
        "RUN rm /gone /d/gone\n"
        "USER nobody\n"
        "WORKDIR /work/dir\n"
        "CMD [\"sh\", \"-c\", \"cat /made; ls /d | wc -l; test -e /gone || echo no-gone; pwd; id -u; "
        "echo ${GREETING:-unset}\"]\n")})
    res = build(root, ctx, "-t", "t1", "--build-arg", "GREETING=hello")
    assert res.returncode == 0, res.stderr
    out = run(root, "t1")
    assert out.stdout.decode().split() == ["hello-kept", "0", "no-gone", "/work/dir", "65534", "unset"]
    doc = json.loads(cairn_cli("inspect", "t1", root=root).stdout)[0]
    assert "KEEP=kept" in doc["Config"]["Env"] and not any(e.startswith("GREETING") for e in doc["Config"]["Env"])
    assert doc["Config"]["User"] == "nobody" and doc["Config"]["WorkingDir"] == "/work/dir"
    assert len(doc["RootFS"]["Layers"]) == 4  # base, two RUNs, WORKDIR's directory
    assert [h.get("empty_layer", False) for h in doc["History"][-7:]] == [True, True, False, False, True, False, True]


def test_copy_rules_and_dockerignore(root, tmp_path):
    ctx = write(tmp_path, {
        "Dockerfile": ("FROM busybox:local\nCOPY app/ /srv/app/\nCOPY one.txt /renamed.txt\n"
                       "COPY *.cfg /etc/conf/\nCOPY --chmod=600 --chown=nobody one.txt /secret\n"
                       "CMD [\"sh\", \"-c\", \"find /srv /renamed.txt /etc/conf | sort; stat -c '%a %U' /secret\"]\n"),
        ".dockerignore": "app/skip.log\n*.bak\n",
        "app/main.py": "print(1)\n", "app/sub/x.txt": "x", "app/skip.log": "no",
        "one.txt": "1", "a.cfg": "a", "b.cfg": "b", "c.bak": "no",
    })
    res = build(root, ctx, "-t", "t2")
    assert res.returncode == 0, res.stderr
    lines = run(root, "t2").stdout.decode().splitlines()
    assert lines == ["/etc/conf", "/etc/conf/a.cfg", "/etc/conf/b.cfg", "/renamed.txt", "/srv", "/srv/app",
                     "/srv/app/main.py", "/srv/app/sub", "/srv/app/sub/x.txt", "600 nobody"]


def test_multistage_target_and_failed_run(root, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": ("FROM busybox:local AS base\nRUN echo base > /base\n"
                                          "FROM base AS bad\nRUN echo oops-output; exit 3\n"
                                          "FROM base AS good\nRUN cat /base > /good\n")})
    assert build(root, ctx, "-t", "t3", "--target", "good").returncode == 0
    assert run(root, "t3", "cat", "/good").stdout == b"base\n"
    res = build(root, ctx, "-t", "t3bad", "--target", "bad")
    err = res.stderr.decode()
    assert res.returncode == 1
    assert "Dockerfile:4\n" in err and "exit code: 3" in err and "oops-output" in err
    assert b"Traceback" not in res.stderr
    assert cairn_cli("inspect", "t3bad", root=root).returncode == 1  # no tag for a failed build


def test_unsupported_and_bad_input_are_clear_errors(root, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox:local\nCOPY --from=nosuch:image /bin/sh /sh\n"})
    res = build(root, ctx)
    assert res.returncode == 1 and b"Dockerfile:2: COPY failed: COPY --from=nosuch:image: no such stage" in res.stderr
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nCOPY missing.txt /x\n")
    res = build(root, tmp_path)
    assert res.returncode == 1 and b"missing.txt: not found in the build context" in res.stderr
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUNN x\n")
    res = build(root, tmp_path)
    assert res.returncode == 2 and res.stderr.startswith(b"Dockerfile:2: unknown instruction: RUNN")
    (tmp_path / "Dockerfile").write_text("FROM nosuch:image\n")
    res = build(root, tmp_path)
    assert res.returncode == 1 and b"not in the store" in res.stderr
    res = cairn_cli("build", str(tmp_path / "nope"), root=root)
    assert res.returncode == 2 and b"is not a directory" in res.stderr


def test_add_extracts_local_archives(root, tmp_path):
    import tarfile

    src = tmp_path / "payload"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "data.txt").write_text("from the archive")
    with tarfile.open(tmp_path / "payload.tar.gz", "w:gz") as tar:
        tar.add(src / "pkg", arcname="pkg")
    (tmp_path / "plain.txt").write_text("plain")
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nADD payload.tar.gz /opt/\nADD plain.txt /opt/\n"
                                         "ADD --unpack=false payload.tar.gz /kept/\n")
    res = build(root, tmp_path, "-t", "t4")
    assert res.returncode == 0, res.stderr
    out = run(root, "t4", "sh", "-c", "cat /opt/pkg/data.txt; echo; cat /opt/plain.txt; echo; ls /kept")
    assert out.stdout.decode().split("\n")[:3] == ["from the archive", "plain", "payload.tar.gz"]


def test_copy_from_stage_and_image(root, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": (
        "FROM busybox:local AS builder\n"
        "RUN mkdir -p /out/sub && echo artefact > /out/sub/a.txt && echo old > /out/old && ln -s a.txt /out/sub/link\n"
        "RUN rm /out/old\n"
        "FROM scratch\n"
        "COPY --from=builder /out/ /app/\n"
        "COPY --from=busybox:local /bin/busybox /bin/busybox\n"
        "COPY --from=0 /out/sub/a.txt /single\n")})
    res = build(root, ctx, "-t", "t5")
    assert res.returncode == 0, res.stderr
    out = run(root, "--entrypoint", "/bin/busybox", "t5", "sh", "-c",
              "/bin/busybox find /app | /bin/busybox sort; /bin/busybox cat /single; "
              "/bin/busybox readlink /app/sub/link")
    assert out.stdout.decode().split() == ["/app", "/app/sub", "/app/sub/a.txt", "/app/sub/link", "artefact", "a.txt"]


def test_secrets_are_readable_in_run_and_never_in_a_layer(root, tmp_path):
    secret = tmp_path / "token.txt"
    secret.write_text("s3cr3t-value")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox:local\n"
        "RUN --mount=type=secret,id=token cat /run/secrets/token > /dev/null && echo used > /used\n"
        "RUN --mount=type=secret,id=token,target=/etc/app/token test -s /etc/app/token\n")
    res = cairn_cli("build", "--progress", "plain", "--secret", f"id=token,src={secret}", "-t", "t6", str(ctx),
                    root=root)
    assert res.returncode == 0, res.stderr
    archive = tmp_path / "t6.tar"
    assert cairn_cli("save", "-o", str(archive), "t6", root=root).returncode == 0
    assert b"s3cr3t-value" not in archive.read_bytes()
    out = run(root, "t6", "sh", "-c", "cat /used; ls /run/secrets /etc/app 2>&1 | wc -l")
    assert out.stdout.decode().split()[0] == "used"
    assert b"/run/secrets" not in cairn_cli("run", "--rm", "--network", "none", "t6", "find", "/run", root=root).stdout
    # a secret's content is not part of the key (as in BuildKit): without it, only a cache hit works
    res = cairn_cli("build", "--progress", "plain", "-t", "t6b", str(ctx), root=root)
    assert res.returncode == 0 and res.stderr.count(b"CACHED") == 2
    res = cairn_cli("build", "--no-cache", "--progress", "plain", "-t", "t6b", str(ctx), root=root)
    assert res.returncode == 1


def test_onbuild_triggers_run_in_the_child_build(root, tmp_path):
    parent = tmp_path / "parent"
    parent.mkdir()
    (parent / "Dockerfile").write_text("FROM busybox:local\nONBUILD COPY marker.txt /marker\n"
                                       "ONBUILD RUN echo triggered > /triggered\n")
    assert build(root, parent, "-t", "onbuild-base").returncode == 0
    child = tmp_path / "child"
    child.mkdir()
    (child / "marker.txt").write_text("from-child-context")
    (child / "Dockerfile").write_text("FROM onbuild-base\nRUN cat /marker /triggered\n")
    res = build(root, child, "-t", "onbuild-child")
    assert res.returncode == 0, res.stderr
    assert b"from-child-context" in res.stdout + res.stderr
    doc = json.loads(cairn_cli("inspect", "onbuild-child", root=root).stdout)[0]
    assert "OnBuild" not in doc["Config"] or not doc["Config"]["OnBuild"]


def test_outputs_and_metadata_file(root, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:local\nRUN echo built > /built\nCOPY f /f\nENV X=1\n",
                                   "f": "file"})
    meta = tmp_path / "meta.json"
    res = cairn_cli("build", "--progress", "quiet", "-t", "t7", "-o", f"type=oci,dest={tmp_path / 'oci.tar'}",
                    "-o", f"type=docker,dest={tmp_path / 'docker.tar'}", "-o", f"type=local,dest={tmp_path / 'rootfs'}",
                    "--metadata-file", str(meta), str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    doc = json.loads(meta.read_text())
    assert doc["misses"] == 2 and doc["hits"] == 0 and doc["hit_rate"] == 0.0
    assert [s["instruction"] for s in doc["steps"]] == ["RUN echo built > /built", "COPY f /f", "ENV X=1"]
    assert all(s["cached"] is False and s["seconds"] >= 0 for s in doc["steps"])
    assert doc["containerimage.digest"].startswith("sha256:")
    assert (tmp_path / "rootfs" / "built").read_text() == "built\n" and (tmp_path / "rootfs" / "bin" / "busybox").exists()
    import subprocess

    for kind, name in (("oci-archive", "oci.tar"), ("docker-archive", "docker.tar")):
        out = subprocess.run(["skopeo", "inspect", f"{kind}:{tmp_path / name}"], capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
    bad = cairn_cli("build", "-o", "type=zip,dest=x", str(ctx), root=root)
    assert bad.returncode == 2 and b"type must be local, tar, oci or docker" in bad.stderr


def test_independent_stages_run_in_parallel(root, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox:local AS a\nRUN sleep 2 && echo a > /a\n"
        "FROM busybox:local AS b\nRUN sleep 2 && echo b > /b\n"
        "FROM busybox:local\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n")})
    meta = tmp_path / "meta.json"
    res = cairn_cli("build", "--progress", "plain", "-t", "t8", "--metadata-file", str(meta), str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    runs = [s for s in json.loads(meta.read_text())["steps"] if s["instruction"].startswith("RUN")]
    assert len(runs) == 2
    first, second = sorted(runs, key=lambda s: s["started"])
    assert second["started"] < first["finished"], runs  # the two RUN steps overlapped
    assert run(root, "t8", "cat", "/a", "/b").stdout == b"a\nb\n"


def test_add_url_with_checksum(root, tmp_path):
    import hashlib

    from .static_http import serving

    served = tmp_path / "served"
    served.mkdir()
    (served / "tool.tar.gz").write_bytes(b"not unpacked: remote files stay as they are")
    digest = hashlib.sha256((served / "tool.tar.gz").read_bytes()).hexdigest()

    with serving(served) as base:
        url = f"{base}/tool.tar.gz"
        ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM busybox:local\nADD --checksum=sha256:{digest} {url} /opt/\n"
                                                      f"ADD {url} /renamed\n"})
        res = build(root, ctx, "-t", "t9")
        assert res.returncode == 0, res.stderr
        out = run(root, "t9", "sh", "-c", "stat -c '%a %s' /opt/tool.tar.gz /renamed")
        assert out.stdout.decode().split("\n")[:2] == ["600 43", "600 43"]
        (ctx / "Dockerfile").write_text(f"FROM busybox:local\nADD --checksum=sha256:{'0' * 64} {url} /opt/\n")
        res = build(root, ctx, "-t", "t9bad")
        assert res.returncode == 1 and b"checksum mismatch" in res.stderr
        (ctx / "Dockerfile").write_text(f"FROM busybox:local\nADD {url}.missing /opt/\n")
        res = build(root, ctx, "-t", "t9missing")
        assert res.returncode == 1 and b"cannot download" in res.stderr


def test_run_mount_from_a_stage(root, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox:local AS tools\nRUN mkdir -p /opt/t && echo from-tools > /opt/t/msg\n"
        "RUN echo second-layer > /opt/t/more\n"
        "FROM busybox:local\n"
        "RUN --mount=type=bind,from=tools,source=/opt/t,target=/mnt cat /mnt/msg /mnt/more > /seen "
        "&& ! touch /mnt/ro 2>/dev/null\n")})
    res = build(root, ctx, "-t", "t10")
    assert res.returncode == 0, res.stderr
    assert run(root, "t10", "sh", "-c", "cat /seen; ls /mnt | wc -l").stdout == b"from-tools\nsecond-layer\n0\n"


def test_copy_exclude_parents_and_symbolic_chmod(root, tmp_path):
    write(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox:local\n"
        "COPY --exclude=*.md --exclude=docs docs-and-src/ /app/\n"
        "COPY --parents a/b/one.txt a/c/two.txt /keep/\n"
        "COPY --chmod=u+x,go-w,o-r tool.sh /tool\n"),
        "docs-and-src/main.py": "m", "docs-and-src/README.md": "r", "docs-and-src/docs/x": "d",
        "docs-and-src/sub/deep.py": "p", "a/b/one.txt": "1", "a/c/two.txt": "2", "tool.sh": "t"})
    os.chmod(tmp_path / "ctx" / "tool.sh", 0o666)
    res = build(root, tmp_path / "ctx", "-t", "t11")
    assert res.returncode == 0, res.stderr
    out = run(root, "t11", "sh", "-c", "find /app /keep | sort; stat -c %a /tool").stdout.decode().split()
    assert out == ["/app", "/app/main.py", "/app/sub", "/app/sub/deep.py", "/keep", "/keep/a", "/keep/a/b",
                   "/keep/a/b/one.txt", "/keep/a/c", "/keep/a/c/two.txt", "740"]


def test_progress_json_is_an_event_stream(root, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:local\nRUN echo hello-log\n"})
    res = cairn_cli("build", "--progress", "json", str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stderr.decode().splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "stage" and "step" in kinds and kinds[-1] == "done"
    assert {"type": "log", "step": 2, "text": "hello-log"}.items() <= next(e for e in events if e["type"] == "log").items()
