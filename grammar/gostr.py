"""Go's notions of whitespace and string quoting, as BuildKit's parser uses them.

BuildKit is written in Go, and its parser's behaviour at the edges follows Go's
`unicode.IsSpace` and `strconv.Quote`. Python's `str.isspace` and `repr` differ from
both (Python counts U+001C..U+001F as space; Go does not), so the parser asks here.
"""

from __future__ import annotations

import unicodedata

# unicode.IsSpace: the White_Space property (Python's isspace adds U+001C..U+001F).
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_GO_SPACE_SET = frozenset(GO_SPACE)

# BuildKit's reWhitespace: the separator between an instruction and its arguments.
KEYWORD_SPACE = "\t\v\f\r "


def is_space(ch: str) -> bool:
    return ch in _GO_SPACE_SET


def trim_space(text: str) -> str:
    return text.strip(GO_SPACE)


def is_letter(ch: str) -> bool:
    """unicode.IsLetter: categories L*."""
    return ch.isalpha()


def is_digit(ch: str) -> bool:
    """unicode.IsDigit: category Nd only (Python's isdigit also takes superscripts)."""
    return ch.isdecimal()


_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def _is_print(ch: str) -> bool:
    # strconv.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space.
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in "LMNPS"


def go_quote(text: str) -> str:
    """strconv.Quote: a double-quoted Go string literal.

    Undecodable bytes, carried as surrogate escapes (U+DC80..U+DCFF), print as `\\xHH`
    the way Go prints the raw byte.
    """
    out = ['"']
    for ch in text:
        esc = _SIMPLE_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
            continue
        code = ord(ch)
        if 0x20 <= code < 0x7F:
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:
            out.append("\\x%02x" % (code - 0xDC00))
        elif code < 0x20 or code == 0x7F:
            out.append("\\x%02x" % code)
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif _is_print(ch):
            out.append(ch)
        elif code < 0x10000:
            out.append("\\u%04x" % code)
        else:
            out.append("\\U%08x" % code)
    out.append('"')
    return "".join(out)


def go_quote_list(items) -> str:
    """fmt's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(s) for s in items) + "]"


_UNESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
              "\\": "\\", '"': '"', "'": "'"}


def go_unquote_at(text: str, pos: int) -> tuple[str, int]:
    """Read the Go string literal starting at text[pos] (a `"`); return it and the index after.

    The inverse of go_quote: `\\xHH` above 0x7f comes back as the surrogate escape go_quote
    printed it from. Raises ValueError on a malformed literal.
    """
    if text[pos : pos + 1] != '"':
        raise ValueError(f"expected a quoted string at {pos}")
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        kind = text[i + 1 : i + 2]
        if kind in _UNESCAPES:
            out.append(_UNESCAPES[kind])
            i += 2
        elif kind in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[kind]
            code = int(text[i + 2 : i + 2 + width], 16)
            if kind == "x" and code >= 0x80:
                code += 0xDC00  # a raw byte, as decode(surrogateescape) holds it
            out.append(chr(code))
            i += 2 + width
        elif kind.isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            raise ValueError(f"bad escape \\{kind} at {i}")
    raise ValueError("unterminated quoted string")
