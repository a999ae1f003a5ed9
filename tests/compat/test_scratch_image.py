"""An image with no layers used as a base and as a mount, ported from BuildKit's
dockerfile_image_test.go (testPullScratch): `FROM scratch` + LABEL makes an image with an
empty rootfs; a build FROM it keeps its label and adds one layer; RUN can mount it (an empty
directory, writable with rw)."""

from __future__ import annotations

from .helpers import build_ok, container, export, image_config, needs_root, write

pytestmark = needs_root

REF = "docker.io/moby/testpullscratch:latest"


@container
def test_pull_scratch(root, tmp_path):
    build_ok(root, write(tmp_path / "a", {"Dockerfile": "FROM scratch\nLABEL foo=bar\n"}), "-t", REF)
    assert image_config(root, REF)["RootFS"]["Layers"] in (None, [])
    build_ok(root, write(tmp_path / "b", {"Dockerfile": f"FROM {REF}\nLABEL bar=baz\nCOPY foo .\n",
                                          "foo": "foo-contents"}), "-t", "docker.io/moby/testpullscratch2:latest")
    doc = image_config(root, "docker.io/moby/testpullscratch2:latest")
    assert len(doc["RootFS"]["Layers"]) == 1
    assert doc["Config"]["Labels"] == {"foo": "bar", "bar": "baz"}
    out = export(root, write(tmp_path / "c", {"Dockerfile": (
        f"FROM busybox\nRUN --mount=from={REF},target=/empty,rw sh -c 'ls -A /empty > /listed; "
        "echo -n foo0 > /empty/foo && cat /empty/foo > /out'\n")}), tmp_path / "out")
    assert (out / "listed").read_text() == "" and (out / "out").read_text() == "foo0"
