"""Image history, ported from BuildKit's dockerfile_history_test.go: one entry per
instruction of the final stage (after the base's own), which of them made a layer, and
`created_by` in BuildKit's words (RUN with the build args in scope, COPY without --from,
EXPOSE's sorted ports)."""

from __future__ import annotations

from .helpers import build_ok, container, image_config, needs_root, write

pytestmark = needs_root


def _history(root, ref: str) -> list[dict]:
    return [{k.lower(): v for k, v in h.items()} for h in image_config(root, ref)["History"]]


@container
def test_history_is_the_final_stages_own(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS base\nENV foo=bar\nCOPY foo /foo2\nFROM busybox\nLABEL lbl=val\n"
        "COPY --from=base foo2 foo3\nWORKDIR /\nRUN echo bar > foo4\nRUN [\"ls\"]\nEXPOSE 2375 5000 1234/udp\n"),
        "foo": "contents0"})
    build_ok(root, ctx, "-t", "compat/history:a")
    base = _history(root, "busybox")
    history = _history(root, "compat/history:a")[len(base):]
    got = [(h["created_by"], bool(h.get("empty_layer"))) for h in history]
    assert [empty for _, empty in got] == [True, False, True, False, False, True]
    for (line, _), part in zip(got, ("lbl=val", "COPY foo2 foo3", "WORKDIR /", "echo bar > foo4", "RUN ls",
                                     "EXPOSE [1234/udp 2375/tcp 5000/tcp]")):
        assert part in line, line
    assert all(h.get("created") for h in history)


@container
def test_run_history_flattens_repeated_args(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nARG foo=bar\nARG bar=123\nARG foo=bar2\nRUN ls /etc/\n"})
    build_ok(root, ctx, "-t", "compat/history:b")
    lines = [h["created_by"] for h in _history(root, "compat/history:b")]
    first = lines.index("ARG foo=bar")
    assert len(lines) == first + 4 and "ARG bar=123" in lines[first + 1] and "ARG foo=bar2" in lines[first + 2]
    assert "ls /etc/" in lines[first + 3] and "ARG foo=bar" not in lines[first + 3]
    assert "RUN |2 foo=bar2 bar=123 " in lines[first + 3]
