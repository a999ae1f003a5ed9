"""Resolves `--user`/USER (`name`, `uid`, `name:group`, `uid:gid`) against an image's
/etc/passwd and /etc/group, as docker does: numeric ids need no entry; names must exist;
supplementary groups come from /etc/group membership; HOME from passwd."""

from __future__ import annotations


from runtime.record import Record, record

from ..errors import CairnError


@record
class User(Record):
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


_MAX_ID = (1 << 32) - 2  # (uid_t)-1 means "unchanged" to the kernel


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _id(text: str, what: str) -> int:
    """A uid or gid, from a USER/--chown value or an image's passwd/group file."""
    if not _number(text) or int(text) > _MAX_ID:
        raise CairnError(f"invalid {what} {text[:50]!r}: ids are numbers from 0 to {_MAX_ID}")
    return int(text)


def resolve_user(spec: str, passwd: bytes | None, group: bytes | None) -> User:
    spec = spec or "0"
    user_part, _, group_part = spec.partition(":")
    users = _table(passwd)
    groups = _table(group)
    entry = None
    if _number(user_part):
        uid = _id(user_part, "user id")
        entry = next((u for u in users if len(u) > 3 and u[2] == user_part), None)
    else:
        entry = next((u for u in users if u and u[0] == user_part), None)
        if entry is None or len(entry) < 4:
            raise CairnError(f"unable to find user {user_part}: no matching entries in passwd file")
        uid = _id(entry[2], f"user id of {user_part} in /etc/passwd")
    gid = _id(entry[3], "group id in /etc/passwd") if entry and len(entry) > 3 and _number(entry[3]) else 0
    home = entry[5] if entry and len(entry) > 5 and entry[5] else "/"
    if group_part:
        if _number(group_part):
            gid = _id(group_part, "group id")
        else:
            g = next((g for g in groups if g and g[0] == group_part), None)
            if g is None or len(g) < 3:
                raise CairnError(f"unable to find group {group_part}: no matching entries in group file")
            gid = _id(g[2], f"group id of {group_part} in /etc/group")
    name = entry[0] if entry else None
    extra = [gid]  # docker lists the primary group among the supplementary ones too
    if name and not group_part:
        for g in groups:
            if len(g) > 3 and name in g[3].split(",") and _number(g[2]) and int(g[2]) <= _MAX_ID:
                extra.append(int(g[2]))
    return User(uid, gid, tuple(dict.fromkeys(extra)), home)


def image_user(lowers: list[str], spec: str) -> User:
    """`spec` (name|uid[:group|gid], or empty for root) as the image's /etc/passwd and /etc/group say."""
    from ..context.merged_view import read_file

    return resolve_user(spec, read_file(lowers, "/etc/passwd"), read_file(lowers, "/etc/group"))
