"""What a failed step tells the user, as BuildKit prints it: the step's last output under its
progress name, the Dockerfile lines around the instruction (`>>>` on its own lines), then
`ERROR: failed to solve: process "/bin/sh -c ..." did not complete successfully: exit code: N`.

    ------
     > [builder 2/3] RUN make:
    cc: error ...
    ------
    Dockerfile:6
    --------------------
       5 |     WORKDIR /src
       6 | >>> RUN make
       7 |     COPY . /out
    --------------------
    ERROR: failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2
"""

from __future__ import annotations

from runtime.record import Record, record

OUTPUT_LINES = 10  # of the step's output shown (BuildKit's printer shows its last lines too)


@record
class StepFailure(Record):
    title: str  # the step's progress name: `[builder 2/3] RUN make`
    start_line: int
    end_line: int
    argv: tuple[str, ...]  # the process that ran
    code: int  # its exit status
    output: tuple[str, ...]  # its last lines


def go_quote(text: str) -> str:
    """Go's %q of a string: double quotes, with backslash escapes for quotes, backslashes and
    control characters (what BuildKit's message shows of the process)."""
    named = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\a": "\\a", "\b": "\\b",
             "\f": "\\f", "\v": "\\v"}
    out = []
    for c in text:
        if c in named:
            out.append(named[c])
        elif ord(c) < 0x20 or ord(c) == 0x7f:
            out.append(f"\\x{ord(c):02x}")
        elif 0xdc80 <= ord(c) <= 0xdcff:  # an undecodable byte (surrogateescape)
            out.append(f"\\x{ord(c) - 0xdc00:02x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def excerpt(filename: str, source: str, start: int, end: int) -> str:
    """BuildKit's listing of the lines start..end: two lines of context either side of a
    one-line instruction, one either side of a longer one."""
    lines = source.split("\n")
    if start < 1 or start > len(lines):
        return ""
    end = min(max(end, start), len(lines))
    first, last = start, end
    pad = 4 if start == end else 2
    used = 0
    while used < pad:  # (BuildKit's loop: each round widens both ends and counts one more)
        if first > 1:
            first -= 1
            used += 1
        if last != len(lines):
            last += 1
            used += 1
        used += 1
    rule = "-" * 20
    rows = [f" {i:3d} | {'>>>' if start <= i <= end else '   '} {lines[i - 1]}" for i in range(first, last + 1)]
    return "\n".join([f"{filename}:{start}", rule, *rows, rule])


def render(failure: StepFailure, filename: str, source: str | None, output: bool = True) -> str:
    """The whole text; `output=False` leaves out the step's output (a live view showed it).
    What the container wrote is shown with its control characters replaced."""
    from .progress_tty import printable

    parts = []
    if output:
        parts += ["------", f" > {printable(failure.title)}:", *map(printable, failure.output[-OUTPUT_LINES:]), "------"]
    if source is not None:
        listing = excerpt(filename, source, failure.start_line, failure.end_line)
        if listing:
            parts.append(listing)
    process = go_quote(" ".join(failure.argv))
    parts.append(f"ERROR: failed to solve: process {process} did not complete successfully: "
                 f"exit code: {failure.code}")
    return "\n".join(parts)
