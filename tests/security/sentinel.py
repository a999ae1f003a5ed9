"""A host directory that an attack aims at, and a fingerprint of everything under it, so a
test can say "nothing outside the build's own files changed"."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

SECRET = "host data"  # the victim file's content


def make_sentinel(root: Path) -> Path:
    """A host directory with a victim file and a subdirectory, as an attacker's target."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "victim").write_text(SECRET + "\n")
    (root / "dir").mkdir(exist_ok=True)
    (root / "dir" / "kept").write_text("kept\n")
    return root


def fingerprint(root: Path) -> dict[str, tuple]:
    """Every entry under root: type, mode, owner, content hash or link target."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    detail = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                detail = os.readlink(path)
            else:
                detail = ""
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, detail)
    st = os.lstat(root)
    out["."] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, "")
    return out



def leaked(out: Path) -> list[str]:
    """Files under `out` (an exported result) that hold the victim's content (links not followed)."""
    found = []
    for dirpath, _dirs, files in os.walk(out):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path) and SECRET in Path(path).read_text(errors="replace"):
                found.append(path)
    return found
