"""ADD, ported from BuildKit's dockerfile_add_test.go: local archives are unpacked, URLs are
downloaded (from a loopback server here), --chown/--chmod/--checksum/--unpack."""

from __future__ import annotations

import email.utils
import hashlib
import os
import stat

import pytest

from .helpers import LoopbackHTTP, build_err, build_ok, export, needs_root, tar_bytes, write

pytestmark = needs_root

CONTENT = tar_bytes({"foo": b"content0"})


@pytest.fixture
def http():
    servers = []

    def start(routes):
        servers.append(LoopbackHTTP(routes))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


def test_add_url_names_and_last_modified(root, tmp_path, http):
    modified = email.utils.formatdate(1_600_000_000, usegmt=True)
    srv = http({"/file": (b"content1", {}), "/": (b"content2", {"Last-Modified": modified})})
    ctx = write(tmp_path / "a", {"Dockerfile": f"FROM scratch\nADD {srv.url}/file /dest/\n"})
    assert (export(root, ctx, tmp_path / "o1") / "dest/file").read_bytes() == b"content1"
    ctx = write(tmp_path / "b", {"Dockerfile": f"FROM scratch\nADD {srv.url}/ /dest/\n"})
    out = export(root, ctx, tmp_path / "o2") / "dest/__unnamed__"
    assert out.read_bytes() == b"content2"
    assert int(os.stat(out).st_mtime) == 1_600_000_000


def test_add_unpacks_local_archives_only(root, tmp_path, http):
    gz = tar_bytes({"foo": b"content0"}, gz=True)
    srv = http({"/t.tar.gz": (gz, {})})
    cases = {
        "ADD t.tar /\n": ("foo", b"content0"),
        "ADD t.tar.gz /\n": ("foo", b"content0"),
        "ADD --unpack=false t.tar.gz /\n": ("t.tar.gz", gz),
        "COPY t.tar.gz /\n": ("t.tar.gz", gz),
        f"ADD {srv.url}/t.tar.gz /\n": ("t.tar.gz", gz),
        f"ADD {srv.url}/t.tar.gz /newname.tar.gz\n": ("newname.tar.gz", gz),
    }
    for i, (line, (path, data)) in enumerate(cases.items()):
        ctx = write(tmp_path / f"c{i}", {"Dockerfile": "FROM scratch\n" + line, "t.tar": CONTENT, "t.tar.gz": gz})
        out = export(root, ctx, tmp_path / f"o{i}")
        assert (out / path).read_bytes() == data, line
        if path == "foo":
            assert not (out / "t.tar").exists() and not (out / "t.tar.gz").exists()
        else:
            assert not (out / "foo").exists()


def test_add_unpack_true_extracts_a_url(root, tmp_path, http):
    srv = http({"/t.tar.gz": (tar_bytes({"foo": b"content0"}, gz=True), {})})
    ctx = write(tmp_path / "c", {"Dockerfile": f"FROM scratch\nADD --unpack=true {srv.url}/t.tar.gz /dest/\n"})
    assert (export(root, ctx, tmp_path / "o") / "dest/foo").read_bytes() == b"content0"


def test_add_archive_creates_implied_parent_directories(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nADD deep.tar /x/\n",
                                 "deep.tar": tar_bytes({"a/b/c/leaf": b"leaf"})})
    out = export(root, ctx, tmp_path / "o")
    assert (out / "x/a/b/c/leaf").read_bytes() == b"leaf" and (out / "x/a/b").is_dir()


def test_add_archive_through_absolute_symlink_stays_in_rootfs(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nADD link.tar /\nADD t.tar /link/\n",
                                 "link.tar": tar_bytes({}, links={"link": "/real"}), "t.tar": CONTENT})
    out = export(root, ctx, tmp_path / "o")
    assert os.readlink(out / "link") == "/real"
    assert (out / "real/foo").read_bytes() == b"content0"


def test_add_chown_applies_to_unpacked_archive_and_destination(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nADD --chown=100:200 t.tar /out/\n", "t.tar": CONTENT})
    out = export(root, ctx, tmp_path / "o")
    for p in ("out", "out/foo"):
        st = os.lstat(out / p)
        assert (st.st_uid, st.st_gid) == (100, 200), p


def test_add_wildcard_unpacks_each_archive(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM scratch\nADD *.tar /dest\n",
                                 "one.tar": tar_bytes({"foo": b"content0"}), "two.tar": tar_bytes({"bar": b"content1"})})
    out = export(root, ctx, tmp_path / "o")
    assert (out / "dest/foo").read_bytes() == b"content0" and (out / "dest/bar").read_bytes() == b"content1"


def test_add_chown_from_env_and_arg(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nARG grp\nENV uid 1000\nADD --chown=${uid}:${grp} f /\n",
                                 "f": "f"})
    st = os.lstat(export(root, ctx, tmp_path / "o", "--build-arg", "grp=nobody") / "f")
    assert (st.st_uid, st.st_gid) == (1000, 65534)


def test_add_url_chmod(root, tmp_path, http):
    srv = http({"/f": (b"x", {})})
    ctx = write(tmp_path / "c", {"Dockerfile": (f"FROM scratch\nADD --chmod=644 {srv.url}/f /a\n"
                                                f"ADD --chmod=755 {srv.url}/f /b\nADD --chmod=0413 {srv.url}/f /c\n"
                                                f"ARG m\nADD --chmod=${{m}} {srv.url}/f /d\n")})
    out = export(root, ctx, tmp_path / "o", "--build-arg", "m=400")
    assert [stat.S_IMODE(os.lstat(out / p).st_mode) for p in "abcd"] == [0o644, 0o755, 0o413, 0o400]


def test_add_invalid_chmod_is_an_error(root, tmp_path):
    for value in ("64a", "10000"):
        ctx = write(tmp_path / value, {"Dockerfile": f"FROM scratch\nADD --chmod={value} f /\n", "f": "f"})
        err = build_err(root, ctx)
        assert "invalid chmod parameter" in err and value in err


def test_add_checksum(root, tmp_path, http):
    srv = http({"/f": (b"content1", {})})
    good = "sha256:" + hashlib.sha256(b"content1").hexdigest()
    ok = {"valid": f"ADD --checksum={good} {srv.url}/f /tmp/f\n",
          "env": f"ENV SUM={good}\nENV LINK={srv.url}/f\nADD --checksum=${{SUM}} ${{LINK}} /tmp/f\n"}
    for name, line in ok.items():
        build_ok(root, write(tmp_path / name, {"Dockerfile": "FROM scratch\n" + line}))
    bad = {"mismatch": (f"ADD --checksum=sha256:{hashlib.sha256(b'').hexdigest()} {srv.url}/f /f\n", "mismatch"),
           "md5": (f"ADD --checksum=md5:7e55db001d319a94b0b713529a756623 {srv.url}/f /f\n", "unsupported"),
           "unknown": (f"ADD --checksum=unknown:{good[7:]} {srv.url}/f /f\n", "unsupported"),
           "noalgo": (f"ADD --checksum={good[7:]} {srv.url}/f /f\n", "checksum"),
           "local": (f"ADD --checksum={good} f /f\n", "checksum")}
    for name, (line, words) in bad.items():
        err = build_err(root, write(tmp_path / name, {"Dockerfile": "FROM scratch\n" + line, "f": "content1"}))
        assert words in err.lower(), (name, err)


def test_add_user_agent(root, tmp_path, http):
    srv = http({"/f": (b"x", {})})
    out = export(root, write(tmp_path / "c", {"Dockerfile": 'FROM scratch\nARG UA="Mozilla/5.0 (Linux) Foo 5.0"\n'
                                                             f'ADD --user-agent="$UA" {srv.url}/f /tmp/foo\n'}),
                 tmp_path / "o")
    assert srv.requests[-1][2] == "Mozilla/5.0 (Linux) Foo 5.0" and (out / "tmp/foo").read_bytes() == b"x"
    # a local source has no request to carry it: refused, as BuildKit does
    err = build_err(root, write(tmp_path / "local", {"Dockerfile": "FROM scratch\nADD --user-agent=Foo foo /tmp/foo\n",
                                                     "foo": "local file"}))
    assert "user-agent can't be specified for non-HTTP sources" in err
    # a header cannot be split: a value with a line break is refused before any request
    before = len(srv.requests)
    err = build_err(root, write(tmp_path / "split", {"Dockerfile": f'FROM scratch\nARG UA\nADD --user-agent="$UA" {srv.url}/f /f\n'}),
                    "--build-arg", "UA=a\r\nX-Injected: 1")
    assert "user-agent" in err.lower() and len(srv.requests) == before
