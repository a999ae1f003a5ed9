"""Rootless mode's pure parts: /etc/subuid ranges into a mapping, and slirp4netns's resolv.conf."""

from __future__ import annotations

import pytest

from runtime import slirp, userns


@pytest.fixture
def subids(tmp_path, monkeypatch):
    def write(uid_text: str, gid_text: str | None = None) -> None:
        (tmp_path / "subuid").write_text(uid_text)
        (tmp_path / "subgid").write_text(uid_text if gid_text is None else gid_text)

    monkeypatch.setattr(userns, "SUBUID", str(tmp_path / "subuid"))
    monkeypatch.setattr(userns, "SUBGID", str(tmp_path / "subgid"))
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    return write


def test_ranges_by_name_or_number_stack_after_the_user(subids):
    subids("other:1:9\nci:200000:65536\n# a comment\nbroken\n4242:300000:10\nci:x:5\nci:5:0\n")
    assert userns.subordinate(userns.SUBUID, "ci", 4242) == [(200000, 65536), (300000, 10)]
    assert userns.subordinate(userns.SUBUID, "nobody-here", 7) == []


def test_the_mapping_puts_the_user_at_0_and_the_ranges_from_1(subids, monkeypatch):
    subids("ci:200000:65536\nci:300000:10\n")
    monkeypatch.setattr("pwd.getpwuid", lambda uid: type("E", (), {"pw_name": "ci"}))
    mapping, warning = userns.plan(1001, 1002)
    assert warning is None
    assert mapping.uids == (userns.IdMap(0, 1001, 1), userns.IdMap(1, 200000, 65536), userns.IdMap(65537, 300000, 10))
    assert mapping.gids[0] == userns.IdMap(0, 1002, 1) and not mapping.single
    assert mapping.describe().startswith("uid 0->1001, 1-65536->200000-265535, 65537-65546->300000-300009; gid 0->1002")


def test_no_range_gives_one_id_and_says_how_to_add_one(subids, monkeypatch):
    subids("someone:200000:65536\n")
    monkeypatch.setattr("pwd.getpwuid", lambda uid: type("E", (), {"pw_name": "ci"}))
    mapping, warning = userns.plan(1001, 1001)
    assert mapping.single and mapping.uids == (userns.IdMap(0, 1001, 1),)
    assert "ci has no subordinate range in" in warning and "usermod --add-subuids" in warning


def test_a_gid_range_alone_is_not_enough(subids, monkeypatch):
    subids("", "ci:200000:65536\n")
    monkeypatch.setattr("pwd.getpwuid", lambda uid: type("E", (), {"pw_name": "ci"}))
    mapping, warning = userns.plan(1001, 1001)
    assert mapping.single and userns.SUBUID in warning


def test_slirp_resolv_conf_keeps_search_and_options_and_uses_the_forwarder():
    text = "nameserver 127.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n"
    assert slirp.resolv_conf(text) == "nameserver 10.0.2.3\nsearch corp.example\noptions edns0 trust-ad\n"
    assert slirp.resolv_conf("") == "nameserver 10.0.2.3\n"
