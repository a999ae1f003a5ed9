"""cairn serve's classic builder stream (builder/serve/classic_stream.py) from a build's events,
for what the docker CLI test (test_serve_images.py) does not build: stages built on stages,
--no-cache, FROM scratch, a global ARG and a stage the target does not need, a failing
exec-form RUN. Each case: a Dockerfile, the events
`cairn build --progress json` gives, and the lines docker's classic builder prints."""

from __future__ import annotations

import re

import pytest

from builder.serve.classic_stream import ClassicStream, Outline


def _events(text: str) -> list[dict]:
    """One event a line: `stage STEP LABEL IMAGE`, `step STEP LABEL cached|runs[:CAUSE] TEXT`, `log STEP TEXT`,
    `done STEP cached|ran IMAGE`, `error STEP TEXT`; the text of a step from the Dockerfile."""
    out = []
    for line in text.strip().splitlines():
        kind, step, rest = line.split(None, 2)
        event = {"type": kind, "step": int(step)}
        if kind == "stage":
            label, image = rest.split()
            event.update(stage=label.strip("'"), image=image.strip("-"))
        elif kind == "step":
            label, how, text = rest.split(None, 2)
            how, _, cause = how.partition(":")  # runs:CAUSE, the miss's cause
            event.update(stage=label.strip("'"), cached=how == "cached", text=text)
            if cause:
                event["cause"] = cause
        elif kind == "done":
            how, image = rest.split()
            event.update(cached=how == "cached", image=image)
        else:
            event["text"] = rest
        out.append(event)
    return out


CASES = [
    ("stages",  # a stage FROM another: its config-only step follows the base stage's last step; the
                # stage before ends with an aux ID; --label zz=1 --label by=serve: LABEL steps, by key
     "FROM busybox AS base\nRUN make\nFROM base AS t\nENV A=1\nCOPY x /x\n", None, False,
     """
stage 1 base sha256:aaaaaaaaaaaa0000
step 2 base runs RUN make
log 2 made
done 2 ran sha256:bbbbbbbbbbbb0000
stage 3 t sha256:bbbbbbbbbbbb0000
step 4 t ran ENV A=1
done 4 ran sha256:cccccccccccc0000
step 5 t cached COPY x /x
done 5 cached sha256:dddddddddddd0000
""", """\
Step 1/7 : FROM busybox AS base
 ---> aaaaaaaaaaaa
Step 2/7 : RUN make
 ---> Running in <c1>
made
Removing intermediate container <c1>
 ---> bbbbbbbbbbbb
<aux sha256:bbbbbbbbbbbb0000>
Step 3/7 : FROM base AS t
 ---> bbbbbbbbbbbb
Step 4/7 : ENV A=1
 ---> Running in <c2>
Removing intermediate container <c2>
 ---> cccccccccccc
Step 5/7 : COPY x /x
 ---> Using cache
 ---> dddddddddddd
Step 6/7 : LABEL by=serve
 ---> Using cache
 ---> <id>
Step 7/7 : LABEL zz=1
 ---> Using cache
 ---> 999999999999
"""),
    ("nocache",  # nothing from the cache: config-only steps run in a container too, after FROM as well
     "FROM scratch\nLABEL a=b\nCMD [\"x\"]\n", None, True,
     """
stage 1 '' -
step 2 '' ran LABEL a=b
done 2 ran sha256:eeeeeeeeeeee0000
step 3 '' ran CMD ["x"]
done 3 ran sha256:ffffffffffff0000
""", """\
Step 1/3 : FROM scratch
 ---> \n\
Step 2/3 : LABEL a=b
 ---> Running in <c1>
Removing intermediate container <c1>
 ---> eeeeeeeeeeee
Step 3/3 : CMD ["x"]
 ---> Running in <c2>
Removing intermediate container <c2>
 ---> 999999999999
"""),
    ("first build",  # a config-only step before a step that is new is new too; after a miss, all miss
     "FROM busybox\nENV A=1\nRUN make\nCMD x\n", None, False,
     """
stage 1 '' sha256:aaaaaaaaaaaa0000
step 2 '' ran ENV A=1
done 2 ran sha256:bbbbbbbbbbbb0000
step 3 '' runs:new RUN make
log 3 made
done 3 ran sha256:cccccccccccc0000
step 4 '' ran CMD x
done 4 ran sha256:dddddddddddd0000
""", """\
Step 1/4 : FROM busybox
 ---> aaaaaaaaaaaa
Step 2/4 : ENV A=1
 ---> Running in <c1>
Removing intermediate container <c1>
 ---> bbbbbbbbbbbb
Step 3/4 : RUN make
 ---> Running in <c2>
made
Removing intermediate container <c2>
 ---> cccccccccccc
Step 4/4 : CMD x
 ---> Running in <c3>
Removing intermediate container <c3>
 ---> 999999999999
"""),
    ("edited file",  # ... but from the cache before a step that missed for its own files
     "FROM busybox\nENV A=1\nCOPY . /src\nCMD x\n", None, False,
     """
stage 1 '' sha256:aaaaaaaaaaaa0000
step 2 '' ran ENV A=1
done 2 ran sha256:bbbbbbbbbbbb0000
step 3 '' runs:files COPY . /src
done 3 ran sha256:cccccccccccc0000
step 4 '' ran CMD x
done 4 ran sha256:dddddddddddd0000
""", """\
Step 1/4 : FROM busybox
 ---> aaaaaaaaaaaa
Step 2/4 : ENV A=1
 ---> Using cache
 ---> bbbbbbbbbbbb
Step 3/4 : COPY . /src
 ---> cccccccccccc
Step 4/4 : CMD x
 ---> Running in <c1>
Removing intermediate container <c1>
 ---> 999999999999
"""),
    ("global ARG, a stage not needed",  # the ARG is a step, as docker prints it; N is the place in the file
     "ARG V=1\nFROM busybox AS unused\nRUN never\nFROM busybox AS t\nRUN make\n", None, False,
     """
stage 1 t sha256:aaaaaaaaaaaa0000
step 2 t runs RUN make
done 2 ran sha256:bbbbbbbbbbbb0000
""", """\
Step 1/5 : ARG V=1
Step 4/5 : FROM busybox AS t
 ---> aaaaaaaaaaaa
Step 5/5 : RUN make
 ---> Running in <c1>
Removing intermediate container <c1>
 ---> 999999999999
"""),
    ("failed exec form",  # the error as docker words it, the command's code; no Removing line
     "FROM busybox\nRUN [\"sh\", \"-c\", \"exit 4\"]\n", None, False,
     """
stage 1 '' sha256:aaaaaaaaaaaa0000
step 2 '' runs RUN ["sh", "-c", "exit 4"]
error 2 the command exited with code 4
""", """\
Step 1/2 : FROM busybox
 ---> aaaaaaaaaaaa
Step 2/2 : RUN ["sh", "-c", "exit 4"]
 ---> Running in <c1>
"""),
]


@pytest.mark.parametrize("name, dockerfile, target, nocache, events, expected", CASES, ids=[c[0] for c in CASES])
def test_classic_stream(tmp_path, name, dockerfile, target, nocache, events, expected):
    (tmp_path / "Dockerfile").write_text(dockerfile)
    said: list[str] = []
    labels = ("zz=1", "by=serve") if name == "stages" else ()
    stream = ClassicStream(said.append, Outline(str(tmp_path / "Dockerfile"), target), nocache,
                           lambda image_id: said.append(f"<aux {image_id}>\n"), labels)
    for event in _events(events):
        stream.event(event)
    if not stream.error:
        stream.finish("sha256:999999999999ffff")
    containers: dict = {}
    text = re.sub(r"Running in ([0-9a-f]{12})|container ([0-9a-f]{12})",
                  lambda m: m.group(0).replace(m.group(1) or m.group(2),
                                               f"<c{containers.setdefault(m.group(1) or m.group(2), len(containers) + 1)}>"),
                  "".join(said))
    text = re.sub(r"(?m)^ ---> (?!(\w)\1{11}$)[0-9a-f]{12}$", " ---> <id>", text)  # (one of the stream's own)
    assert text == expected
    if name == "failed exec form":
        assert (stream.error, stream.code) == ("The command 'sh -c exit 4' returned a non-zero code: 4", 4)
