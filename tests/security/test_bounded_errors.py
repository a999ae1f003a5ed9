"""Outside input that used to reach "internal error": each is now a clear error, no traceback.

A store whose cairn.db was overwritten or truncated; a query that meets a corrupt page
after the store opened; a registry that redirects to a non-http(s) URL is in
test_bounded_registry.
"""

from __future__ import annotations

import os
import sqlite3

import pytest

from tests.conftest import cairn_cli


def _clean_failure(res) -> str:
    err = res.stderr.decode(errors="replace")
    assert res.returncode == 1, err
    assert "internal error" not in err and "Traceback" not in err, err
    return err


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "store"
    res = cairn_cli("images", root=root)
    assert res.returncode == 0, res.stderr
    return root


def _replace_db(root, data: bytes) -> None:
    db = root / "cairn.db"
    for extra in ("-wal", "-shm"):
        try:
            os.unlink(f"{db}{extra}")
        except FileNotFoundError:
            pass
    db.write_bytes(data)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "header-then-garbage"])
def test_a_corrupt_database_is_a_clear_error(root, damage):
    good = (root / "cairn.db").read_bytes()
    data = {"garbage": os.urandom(64 << 10), "truncated": good[:5000],
            "header-then-garbage": good[:100] + os.urandom(40 << 10)}[damage]
    _replace_db(root, data)
    err = _clean_failure(cairn_cli("images", root=root))
    assert "the store's database" in err and "cannot be used" in err


def test_a_corrupt_page_met_by_a_later_query_is_a_clear_error(root):
    db = root / "cairn.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='images'").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    data[(page - 1) * page_size: page * page_size] = b"\xff" * page_size
    _replace_db(root, bytes(data))
    err = _clean_failure(cairn_cli("images", root=root))
    assert "the store's database" in err


def test_a_database_from_a_newer_cairn_is_a_clear_error(root):
    with sqlite3.connect(root / "cairn.db") as conn:
        conn.execute("UPDATE meta SET value='999' WHERE key='schema'")
    conn.close()
    err = _clean_failure(cairn_cli("images", root=root))
    assert "newer cairn" in err


@pytest.mark.parametrize("config", [{"Env": [5]}, {"Cmd": "not a list"}, {"User": 0}, {"WorkingDir": ["/"]},
                                    {"Labels": {"a": 1}}, {"Entrypoint": [None]}, "a string",
                                    {"WorkingDir": "/a\0b"}, {"Env": ["A=\0"]}, {"Env": ["A=\udcff"]}])
def test_an_image_config_of_the_wrong_shape_is_refused_when_loaded(tmp_path, config):
    """A hostile image whose config holds numbers where strings go used to load, then crash
    the build that started FROM it."""
    import io
    import json
    import tarfile

    doc = json.dumps({"architecture": "amd64", "os": "linux", "config": config,
                      "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["evil:1"], "Layers": []}]).encode()
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        for name, data in (("manifest.json", manifest), ("c.json", doc)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    root = tmp_path / "store"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM evil:1\nENV X=1\nWORKDIR sub\nUSER nobody\nCMD echo\n")
    for res in (cairn_cli("load", "-i", str(archive), root=root), cairn_cli("build", str(ctx), root=root)):
        err = res.stderr.decode(errors="replace")
        assert "internal error" not in err and "Traceback" not in err, err
    assert res.returncode != 0


@pytest.mark.parametrize("answer", [b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                                    b"HTTP/1.1 99999 What\r\n\r\n"])
def test_add_of_a_url_whose_server_speaks_garbage_is_a_clear_error(tmp_path, answer):
    from tests.security.hostile_http import HostileServer

    with HostileServer() as server:
        server.routes["/file"] = lambda h: h.wfile.write(answer)
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM scratch\nADD http://{server.domain}/file /file\n")
        res = cairn_cli("build", str(ctx), root=tmp_path / "store")
    err = _clean_failure(res)
    assert "cannot download" in err


@pytest.mark.parametrize("dockerfile,where", [
    ("FROM scratch\nWORKDIR /a\0b\n", "Dockerfile:2:"),
    ("FROM scratch\nCOPY f /f\0x\n", "Dockerfile:2:"),
    ("FROM scratch\nCOPY --chown=99999999999999:1 f /f\n", "invalid user id"),
    ("FROM scratch\nCOPY --chown=1:\u00b2 f /f\n", "group"),
    (b"FROM scratch\nLABEL a=\xff\xfe\n", "Dockerfile:2: LABEL: the instruction is not valid UTF-8"),
    (b"FROM scratch\nCOPY <<EOF /x\n\xff\nEOF\n", "Dockerfile:2"),
])
def test_dockerfile_values_no_system_call_takes_are_clear_errors(tmp_path, dockerfile, where):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("x")
    (ctx / "Dockerfile").write_bytes(dockerfile if isinstance(dockerfile, bytes) else dockerfile.encode())
    res = cairn_cli("build", str(ctx), root=tmp_path / "store")
    err = res.stderr.decode(errors="replace")
    assert res.returncode in (1, 2) and "internal error" not in err and "Traceback" not in err, err
    assert where in err


@pytest.mark.parametrize("passwd,spec", [(b"bob:x:abc:0::/:/bin/sh\n", "bob"),
                                         (b"bob:x:99999999999999:0::/:/bin/sh\n", "bob"),
                                         (b"bob:x:\xc2\xb2:0::/:/bin/sh\n", "bob")])
def test_an_image_passwd_with_absurd_ids_is_a_clear_error(passwd, spec):
    from builder.containers.users import resolve_user
    from builder.errors import CairnError

    with pytest.raises(CairnError, match="invalid user id"):
        resolve_user(spec, passwd, b"")
