"""The automatic platform ARGs and `--platform`, ported from BuildKit's
dockerfile_platform_test.go (testPlatformArgsImplicit, testPlatformArgsExplicit).

TARGETPLATFORM/OS/ARCH/VARIANT follow `build --platform` (the host's by default),
BUILDPLATFORM/... the host; `FROM --platform=$BUILDPLATFORM` runs a stage on the host while
the image is for the target. cairn has no emulation: a RUN step that would need another
architecture is refused before any step runs, exit 2, with a hint (issue #15)."""

from __future__ import annotations

import io
import platform as host_info
import tarfile

from ..conftest import cairn_cli
from ..security.image_archive import docker_archive
from .helpers import build, build_ok, container, export, image_config, needs_root, write

pytestmark = needs_root

HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(host_info.machine(), host_info.machine())
OTHER = "linux/arm64" if HOST_ARCH != "arm64" else "linux/amd64"
OTHER_ARCH = OTHER.split("/")[1]


def test_platform_args_implicit(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch AS build-linux\nCOPY foo bar\n"
                                               "FROM build-${TARGETOS}\nCOPY foo2 bar2\n",
                                 "foo": "d0", "foo2": "d1"})
    out = export(root, ctx, tmp_path / "out")
    assert (out / "bar").read_text() == "d0" and (out / "bar2").read_text() == "d1"


@container
def test_platform_args_explicit(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM --platform=$BUILDPLATFORM busybox AS build\nARG TARGETPLATFORM\nARG TARGETOS\n"
        "RUN mkdir /out && echo -n $TARGETPLATFORM > /out/platform && echo -n $TARGETOS > /out/os\n"
        "FROM scratch\nCOPY --from=build out .\n")})
    out = export(root, ctx, tmp_path / "out", "--platform", "darwin/ppc64le", "--build-arg", "TARGETOS=freebsd",
                 "-t", "cross:1")
    assert (out / "platform").read_text() == "darwin/ppc64le"
    assert (out / "os").read_text() == "freebsd"
    doc = image_config(root, "cross:1")
    assert (doc["Os"], doc["Architecture"]) == ("darwin", "ppc64le")


def test_every_platform_arg(root, tmp_path):
    names = [f"{p}{k}" for p in ("TARGET", "BUILD") for k in ("PLATFORM", "OS", "ARCH", "VARIANT")]
    lines = "".join(f"ARG {n}\n" for n in names)
    body = ",".join(f"{n}=${n}" for n in names)
    ctx = write(tmp_path / "c", {"Dockerfile": f"FROM scratch\n{lines}COPY <<EOF /args\n{body}\nEOF\n"})
    out = export(root, ctx, tmp_path / "out", "--platform", "linux/arm/v7")
    assert (out / "args").read_text() == (
        f"TARGETPLATFORM=linux/arm/v7,TARGETOS=linux,TARGETARCH=arm,TARGETVARIANT=v7,"
        f"BUILDPLATFORM=linux/{HOST_ARCH},BUILDOS=linux,BUILDARCH={HOST_ARCH},BUILDVARIANT=\n")
    out = export(root, ctx, tmp_path / "out2", "--platform", "linux/aarch64")  # normalised as docker does
    assert (out / "args").read_text().startswith("TARGETPLATFORM=linux/arm64,TARGETOS=linux,TARGETARCH=arm64,")
    out = export(root, ctx, tmp_path / "out3")
    assert (out / "args").read_text().startswith(f"TARGETPLATFORM=linux/{HOST_ARCH},")
    out = tmp_path / "out4"  # buildx's default for --platform
    build_ok(root, ctx, "-o", f"type=local,dest={out}", env={"DOCKER_DEFAULT_PLATFORM": "linux/riscv64"})
    assert (out / "args").read_text().startswith("TARGETPLATFORM=linux/riscv64,")


@container
def test_the_hosts_own_platform_runs(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nARG TARGETARCH\nRUN echo $TARGETARCH > /arch\n"})
    out = export(root, ctx, tmp_path / "out", "--platform", f"linux/{HOST_ARCH}")
    assert (out / "arch").read_text() == f"{HOST_ARCH}\n"


def test_another_architecture_cannot_run(root, tmp_path):
    for dockerfile, args in (("FROM busybox\nCOPY f /f\nRUN echo ran\n", ("--platform", OTHER)),
                             (f"FROM --platform={OTHER} busybox\nCOPY f /f\nRUN echo ran\n", ())):
        ctx = write(tmp_path / "c", {"Dockerfile": dockerfile, "f": "x"})
        res = build(root, ctx, *args)
        err = res.stderr.decode()
        assert res.returncode == 2, err[-2000:]
        assert f"Dockerfile:3: RUN needs {OTHER}" in err and "does not emulate" in err, err[-2000:]
        assert "FROM --platform=$BUILDPLATFORM" in err and "Traceback" not in err
        assert "#1 " not in err  # refused before any step ran


def test_a_foreign_image_is_used_for_its_platform(root, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    archive = docker_archive(tmp_path / "img.tar", "foreign:1", [buf.getvalue()], arch=OTHER_ARCH)
    assert cairn_cli("load", "-i", str(archive), root=root).returncode == 0
    ctx = write(tmp_path / "c", {"Dockerfile": f"FROM --platform={OTHER} foreign:1\nCOPY f /f\n", "f": "x"})
    build_ok(root, ctx, "-t", "foreign-child:1")
    doc = image_config(root, "foreign-child:1")
    assert doc["Architecture"] == OTHER_ARCH
    # COPY --from an image resolves it for the stage's platform
    ctx = write(tmp_path / "e", {"Dockerfile": "# check=skip=FromPlatformFlagConstDisallowed\n"
                                               f"FROM --platform={OTHER} scratch\nCOPY --from=foreign:1 /hello /\n"})
    assert "warning" not in build_ok(root, ctx)
    # asked for the host's platform, the store's foreign image is pulled again: here it cannot be
    ctx = write(tmp_path / "d", {"Dockerfile": "FROM 127.0.0.1:9/nothing/here:1\nCOPY f /f\n", "f": "x"})
    assert cairn_cli("tag", "foreign:1", "127.0.0.1:9/nothing/here:1", root=root).returncode == 0
    res = build(root, ctx, "--platform", f"linux/{HOST_ARCH}")
    err = res.stderr.decode()
    assert res.returncode == 1 and f"is for {OTHER}, not the linux/{HOST_ARCH} asked for" in err, err[-2000:]
    ctx2 = write(tmp_path / "f", {"Dockerfile": "FROM scratch\nCOPY --from=127.0.0.1:9/nothing/here:1 /hello /\n"})
    res = build(root, ctx2, "--platform", f"linux/{HOST_ARCH}")
    assert res.returncode == 1 and f"is for {OTHER}, not the linux/{HOST_ARCH}" in res.stderr.decode()
    # without --platform, docker's behaviour: the store's image, with a warning
    out = export(root, ctx, tmp_path / "out")
    assert (out / "hello").read_text() == "hello\n"


def test_bad_platforms_are_usage_errors(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\n"})
    for value, words in (("linux", "expected OS/ARCH"), ("linux/amd64,linux/arm64", "one platform at a time")):
        res = build(root, ctx, "--platform", value)
        assert res.returncode == 2 and words in res.stderr.decode(), res.stderr.decode()[-1000:]
    ctx = write(tmp_path / "d", {"Dockerfile": "ARG P=nonsense\nFROM --platform=$P scratch\n"})
    res = build(root, ctx)
    assert res.returncode == 2 and "Dockerfile:2: invalid FROM --platform 'nonsense'" in res.stderr.decode(), \
        res.stderr.decode()[-1000:]
