"""POST /build from docker's classic client (DOCKER_BUILDKIT=0): a failed RUN is told as docker
tells it, `The command '...' returned a non-zero code: N`, its exec form read back as JSON
(classic_stream.failed_command). A Dockerfile's `RUN [[[[...]]]]` 3,000 deep is a shell-form
RUN (not an exec form: cairn runs it with /bin/sh -c, which fails), and reading it back as JSON
raised RecursionError: the client got "internal error: RecursionError" and the server printed
a traceback (the old code here). Now it is told as the shell form it ran as."""

from __future__ import annotations

from builder.serve.classic_stream import ClassicStream, Outline

DEEP = "[" * 3000 + "]" * 3000


def test_a_failed_run_nested_past_the_json_parsers_depth_is_told_as_docker_tells_it(tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM busybox\nRUN {DEEP}\n")
    said: list[str] = []
    stream = ClassicStream(said.append, Outline(str(tmp_path / "Dockerfile"), None), False)
    for event in ({"type": "stage", "step": 1, "stage": "", "image": "sha256:" + "a" * 64},
                  {"type": "step", "step": 2, "stage": "", "text": f"RUN {DEEP}", "cached": False},
                  {"type": "error", "step": 2, "text": "the command exited with code 2"}):
        stream.event(event)
    assert stream.code == 2
    assert stream.error == f"The command '/bin/sh -c {DEEP}' returned a non-zero code: 2"
