"""BuildKit's parser goldens (../shared/conformance/buildkit-parser): dump must match."""

from __future__ import annotations

import pytest

from grammar import DockerfileError, dump, parse

from .conftest import CONFORMANCE, case_dirs

POSITIVE = case_dirs(CONFORMANCE / "buildkit-parser" / "testfiles")
NEGATIVE = case_dirs(CONFORMANCE / "buildkit-parser" / "testfiles-negative")


@pytest.mark.parametrize("case", POSITIVE, ids=lambda p: p.name)
def test_dump_matches_buildkit(case):
    expected = (case / "result").read_text(encoding="utf-8")
    got = dump(parse((case / "Dockerfile").read_bytes()))
    assert got == expected.rstrip("\n") + "\n"


@pytest.mark.parametrize("case", NEGATIVE, ids=lambda p: p.name)
def test_rejected_like_buildkit(case):
    with pytest.raises(DockerfileError) as info:
        parse((case / "Dockerfile").read_bytes())
    assert info.value.start_line >= 1
    assert str(info.value)
