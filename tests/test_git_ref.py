"""What an ADD source names, as docker reads it: a git repository (remote, ref, subdir,
checksum, keep-git-dir, submodules), not one (None), or an error. One case a row."""

from __future__ import annotations

import pytest

from builder.executor.git_ref import GitRefError, for_add, parse

H = "https://h/r.git"
C = "a" * 40

CASES = [  # (source, (remote, ref, subdir, checksum, keep, submodules) | None | "error words")
    (H, (H, "", "", "", None, None)),
    (H + "#v1", (H, "v1", "", "", None, None)),
    (H + "#v1:sub/dir", (H, "v1", "sub/dir", "", None, None)),
    (H + "#:sub", (H, "", "sub", "", None, None)),
    (H + "#refs/tags/v1:/a/../b/", (H, "refs/tags/v1", "b", "", None, None)),
    (H + "##ref=v1,subdir=d,commit=" + C, (H, "v1", "d", C, None, None)),
    (H + "##commit=" + C, (H, C, "", C, None, None)),
    (H + "##bogus=1", "unexpected key"),
    (H + "?ref=v1&subdir=d", (H, "v1", "d", "", None, None)),
    (H + "?tag=v1", (H, "refs/tags/v1", "", "", None, None)),
    (H + "?branch=main", (H, "refs/heads/main", "", "", None, None)),
    (H + "?tag=v1&branch=main", "branch conflicts with tag"),
    (H + "?tag=v1#refs/heads/main", "ref conflicts"),
    (H + "?tag=v1#refs/tags/v1", (H, "refs/tags/v1", "", "", None, None)),
    (H + "?commit=ABCD", (H, "", "", "abcd", None, None)),
    (H + "?keep-git-dir&submodules=false", (H, "", "", "", True, False)),
    (H + "?keep-git-dir=maybe", "invalid keep-git-dir value"),
    (H + "?ref=a&ref=b", "multiple values"),
    (H + "?ref=", "has no value"),
    (H + "?what=1", "unexpected query"),
    ("http://h/r.git", ("http://h/r.git", "", "", "", None, None)),
    ("https://user:tok@h:8443/a/r.git#v1", ("https://user:tok@h:8443/a/r.git", "v1", "", "", None, None)),
    ("git://h/r#v1", ("git://h/r", "v1", "", "", None, None)),
    ("ssh://git@h/r#v1", ("ssh://git@h/r", "v1", "", "", None, None)),
    ("git@github.com:moby/buildkit.git#v1:sub", ("git@github.com:moby/buildkit.git", "v1", "sub", "", None, None)),
    # not git sources: the caller copies or downloads them (or refuses the scheme)
    ("https://h/file.tar.gz", None),
    ("https://h/r.git.tar", None),
    ("file:///etc/r.git", None),
    ("/abs/path.git", None),
    ("./r.git", None),
    ("r.git", None),
    ("-oProxyCommand=x@h:r.git", None),
    # refused: a ref or host that git or ssh could read as an option, a subdir leaving the repository
    (H + "#--upload-pack=/x", "invalid git ref"),
    (H + "#refs/heads/-x", "invalid git ref"),
    (H + "#HEAD@{1}", "invalid git ref"),
    (H + "#a..b", "invalid git ref"),
    (H + "#v1 x", "invalid git ref"),
    (H + "#v1:../up", "leaves the repository"),
    (H + "?commit=xyz", "expected hex commit hash"),
    ("ssh://-oProxyCommand=x/r.git", "bad host"),
    ("ssh://-x@h/r.git", "bad user"),
]


@pytest.mark.parametrize("src, want", CASES)
def test_parse(src, want):
    if isinstance(want, str):
        with pytest.raises(GitRefError, match=want.replace("(", r"\(")):
            parse(src)
        return
    got = parse(src)
    if want is None:
        assert got is None
    else:
        assert (got.remote, got.ref, got.subdir, got.checksum, got.keep_git_dir, got.submodules) == want


def test_add_flags_merge_with_the_url():
    assert for_add(H, True, "").keep_git_dir is True
    assert for_add(H + "?keep-git-dir=false", True, "").keep_git_dir is False
    assert for_add(H, False, C.upper()).checksum == C
    with pytest.raises(GitRefError, match="checksum mismatch"):
        for_add(H + "?commit=" + "b" * 40, False, C)
    with pytest.raises(GitRefError, match="expected hex commit hash"):
        for_add(H, False, "foobar")
