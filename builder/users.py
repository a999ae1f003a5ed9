"""Resolves `--user`/USER (`name`, `uid`, `name:group`, `uid:gid`) against an image's
/etc/passwd and /etc/group, as docker does: numeric ids need no entry; names must exist;
supplementary groups come from /etc/group membership; HOME from passwd."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CairnError


@dataclass(frozen=True)
class User:
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def _table(text: bytes | None) -> list[list[str]]:
    if not text:
        return []
    rows = []
    for line in text.decode("utf-8", "replace").splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def resolve_user(spec: str, passwd: bytes | None, group: bytes | None) -> User:
    spec = spec or "0"
    user_part, _, group_part = spec.partition(":")
    users = _table(passwd)
    groups = _table(group)
    entry = None
    if user_part.isdigit():
        uid = int(user_part)
        entry = next((u for u in users if len(u) > 3 and u[2] == user_part), None)
    else:
        entry = next((u for u in users if u and u[0] == user_part), None)
        if entry is None or len(entry) < 4:
            raise CairnError(f"unable to find user {user_part}: no matching entries in passwd file")
        uid = int(entry[2])
    gid = int(entry[3]) if entry and len(entry) > 3 and entry[3].isdigit() else 0
    home = entry[5] if entry and len(entry) > 5 and entry[5] else "/"
    if group_part:
        if group_part.isdigit():
            gid = int(group_part)
        else:
            g = next((g for g in groups if g and g[0] == group_part), None)
            if g is None or len(g) < 3:
                raise CairnError(f"unable to find group {group_part}: no matching entries in group file")
            gid = int(g[2])
    name = entry[0] if entry else None
    extra = [gid]  # docker lists the primary group among the supplementary ones too
    if name and not group_part:
        for g in groups:
            if len(g) > 3 and name in g[3].split(",") and g[2].isdigit():
                extra.append(int(g[2]))
    return User(uid, gid, tuple(dict.fromkeys(extra)), home)
