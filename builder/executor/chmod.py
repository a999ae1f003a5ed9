"""`--chmod` values: octal (`0755`) or symbolic (`u+x,g-w,o=r`, `a+X`), applied per entry."""

from __future__ import annotations

import re
import stat

from ..errors import CairnError

_CLAUSE = re.compile(r"^([ugoa]*)([-+=])([rwxXst]*)$")
_WHO = {"u": stat.S_IRWXU | stat.S_ISUID, "g": stat.S_IRWXG | stat.S_ISGID, "o": stat.S_IRWXO}


class Chmod:
    def __init__(self, text: str):
        self.text = text
        self.octal: int | None = None
        self.clauses: list[tuple[str, str, str]] = []
        if re.fullmatch(r"[0-7]{1,4}", text):
            self.octal = int(text, 8)
            return
        for part in text.split(","):
            m = _CLAUSE.match(part)
            if not m:
                raise CairnError(f"--chmod={text}: not an octal or symbolic mode")
            self.clauses.append((m.group(1) or "a", m.group(2), m.group(3)))

    def apply(self, mode: int, is_dir: bool) -> int:
        if self.octal is not None:
            return self.octal
        mode = stat.S_IMODE(mode)
        for who, op, perms in self.clauses:
            mask = 0
            for w in ("ugo" if "a" in who else who):
                shift = {"u": 6, "g": 3, "o": 0}[w]
                for p in perms:
                    if p == "r":
                        mask |= 4 << shift
                    elif p == "w":
                        mask |= 2 << shift
                    elif p == "x" or (p == "X" and (is_dir or mode & 0o111)):
                        mask |= 1 << shift
                    elif p == "s" and w in "ug":
                        mask |= stat.S_ISUID if w == "u" else stat.S_ISGID
                    elif p == "t" and w == "o":
                        mask |= stat.S_ISVTX
            if op == "+":
                mode |= mask
            elif op == "-":
                mode &= ~mask
            else:
                clear = 0
                for w in ("ugo" if "a" in who else who):
                    clear |= _WHO[w]
                mode = (mode & ~clear) | mask
        return mode
