"""Resolve Docker's ``-u name|uid[:group|gid]`` against the container's own passwd/group.

Read from inside the container (after pivot_root), so an image's symlinked /etc/passwd can
never make us read a host file.
"""

from __future__ import annotations

from dataclasses import dataclass


class UnknownUser(LookupError):
    pass


MAX_ID = 2**31 - 1  # runc's limit: a uid/gid beyond it is refused, not wrapped


@dataclass
class User:
    uid: int
    gid: int
    groups: list[int]
    home: str


def _entries(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip() and line[0] != "#"]
    except OSError:
        return []


def resolve(spec: str, passwd: str = "/etc/passwd", group: str = "/etc/group") -> User:
    user, _, grp = (spec or "0").partition(":")
    users = [e for e in _entries(passwd) if len(e) >= 7]
    match = next((e for e in users if e[0] == user or (user.isdigit() and e[2] == user)), None)
    if match is None:
        if not user.isdigit():
            raise UnknownUser(f"unable to find user {user}: no matching entries in passwd file")
        uid, gid, name, home = int(user), 0, "", "/"  # Docker: an unknown numeric uid runs as gid 0
    else:
        name, uid, gid, home = match[0], int(match[2]), int(match[3]), match[5] or "/"
    groups_table = [e for e in _entries(group) if len(e) >= 4]
    if grp:
        g = next((e for e in groups_table if e[0] == grp or (grp.isdigit() and e[2] == grp)), None)
        if g is None and not grp.isdigit():
            raise UnknownUser(f"unable to find group {grp}: no matching entries in group file")
        gid = int(g[2]) if g else int(grp)
    if not (0 <= uid <= MAX_ID and 0 <= gid <= MAX_ID):
        raise UnknownUser(f"uids and gids must be in range 0-{MAX_ID}")
    extra = [int(e[2]) for e in groups_table if name and name in e[3].split(",")]
    return User(uid, gid, sorted({gid, *extra}), home)
