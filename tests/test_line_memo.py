"""grammar.line_memo: a line only the Lark grammar can split (one with flags) is split by it
once; later runs read the split from the user's private cache and load no Lark. What is read
back must never change a parse: a memo that is damaged, or lies in a directory others can
write, is ignored."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from grammar.instruction_line import GRAMMAR_PATH

from .conftest import REPO

DOCKERFILE = b"""\
FROM --platform=$BUILDPLATFORM busybox AS base
RUN --mount=type=cache,target=/root/.cache --network=none echo "hi there"
COPY --from=base --chown=1:1 --chmod=644 a b
ADD --keep-git-dir=true --checksum=sha256:00 x /y
"""
PROBE = ("import sys, grammar; d = grammar.parse(open(sys.argv[1], 'rb').read()); "
         "print(grammar.dump(d)); print('lark loaded:', 'lark' in sys.modules)")


def _parse(tmp_path, cache_home) -> tuple[str, bool]:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_bytes(DOCKERFILE)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    res = subprocess.run([sys.executable, "-c", PROBE, str(dockerfile)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=60, check=True)
    dump, _, loaded = res.stdout.rpartition("lark loaded: ")
    return dump, loaded.strip() == "True"


def _memo(cache_home):
    found = list((cache_home / "cairn").glob("*splits*.json"))
    assert len(found) == 1
    return found[0]


def test_flagged_lines_are_split_by_the_grammar_once(tmp_path):
    home = tmp_path / "cache"
    home.mkdir(mode=0o700)
    first, loaded_first = _parse(tmp_path, home)
    second, loaded_second = _parse(tmp_path, home)
    assert (loaded_first, loaded_second) == (True, False)
    assert second == first and "--mount=type=cache,target=/root/.cache" in first


def test_a_damaged_memo_is_ignored_and_the_parse_stays_right(tmp_path):
    home = tmp_path / "cache"
    home.mkdir(mode=0o700)
    right, _ = _parse(tmp_path, home)
    memo = _memo(home)
    doc = json.loads(memo.read_text())
    for damage in ("{not json", json.dumps([1, 2]),
                   json.dumps({line: ["RUN", [1], "x"] for line in doc}),  # a flag that is no text
                   json.dumps({line: ["RUN", [], "echo lie"] for line in doc}) + "\0"):
        memo.write_text(damage)
        assert _parse(tmp_path, home)[0] == right, damage


def test_a_memo_others_could_write_is_never_read(tmp_path):
    home = tmp_path / "shared"
    home.mkdir()
    home.chmod(0o777)  # as /tmp: another user could plant the memo
    (home / "cairn").mkdir(mode=0o700)
    right, _ = _parse(tmp_path, tmp_path / "private-never-made")
    planted = {"RUN --mount=type=cache,target=/root/.cache --network=none echo \"hi there\"": ["RUN", [], "echo lie"]}
    with open(GRAMMAR_PATH, "rb") as f:  # the name cairn looks for
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    (home / "cairn" / f"dockerfile-grammar-lark-splits-{digest}.json").write_text(json.dumps(planted))
    dump, loaded = _parse(tmp_path, home)
    assert dump == right and loaded  # read nothing from there: the grammar split every line
