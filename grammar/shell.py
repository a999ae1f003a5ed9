"""Shell-word processing: variable expansion, quotes and word splitting, as BuildKit does it.

This is the Dockerfile's own small shell dialect (not sh): `$v`, `${v}`, `${v:-d}`,
`${v-d}`, `${v:+a}`, `${v+a}`, `${v:?msg}`, `${v?msg}`, `${v#p}`, `${v##p}`, `${v%p}`,
`${v%%p}`, `${v/p/r}`, `${v//p/r}`; single quotes are literal, double quotes expand, and
the escape character (`\\` or a backtick) escapes. A malformed word raises ShellWordError.

Public entry points: `expand_word`, `expand_words`, and `ShellLexer` for the options the
parser needs (raw quotes and escapes, leaving unset variables alone).
"""

from __future__ import annotations

import functools
import re
from typing import Mapping

from . import glob
from .ast import Value
from .errors import ShellWordError
from .gostr import GO_SPACE, is_digit, is_letter, is_space

_EOF = ""
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_SPACES = re.compile("[%s]" % re.escape(GO_SPACE))
# How deeply `${...}` may nest inside one another (BuildKit has no limit; real Dockerfiles
# nest a few levels). Each level costs a handful of Python frames, so this stays well
# inside the interpreter's recursion limit whoever the caller is.
MAX_NESTING = 64
_ASCII_NAME = re.compile("[A-Za-z_][A-Za-z0-9_]*")


class Expansion(Value):
    """The result of processing one word."""

    __slots__ = ("word", "words", "matched", "unmatched")

    def __init__(self, word: str, words: tuple[str, ...], matched: frozenset[str] = frozenset(),
                 unmatched: frozenset[str] = frozenset()):
        self._fill(word=word, words=words, matched=matched, unmatched=unmatched)


class _Words:
    """Accumulates the split words while a word is processed (in linear time: the current
    word is a list of pieces, joined once when it ends)."""

    __slots__ = ("parts", "words")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.words: list[str] = []

    def _end_word(self) -> None:
        if self.parts:
            self.words.append("".join(self.parts))
            self.parts = []

    def add_char(self, ch: str) -> None:
        if is_space(ch):
            self._end_word()
        elif ch:
            self.parts.append(ch)

    def add_raw(self, text: str) -> None:
        if text:
            self.parts.append(text)

    def add_string(self, text: str) -> None:
        """Text from an expansion: unquoted, so its whitespace splits words."""
        for i, piece in enumerate(_SPACES.split(text)):
            if i:
                self._end_word()
            self.add_raw(piece)

    def result(self) -> list[str]:
        self._end_word()
        return self.words


class ShellLexer:
    """Processes words with an escape character and a few switches BuildKit's parser uses."""

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset: bool = False,
        skip_quotes: bool = False,
    ):
        if escape not in ("\\", "`"):
            raise ValueError("escape must be \\ or `")
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset
        self.skip_quotes = skip_quotes  # quotes are plain characters (heredoc bodies)

    def process(self, word: str, env: Mapping[str, str]) -> Expansion:
        run = _Run(self, word, env)
        try:
            result, words = run.stop_on(_EOF, self.raw_escapes)
        except ShellWordError as err:
            shown = _quote(word) if len(word) <= 200 else _quote(word[:200]) + "..."
            raise ShellWordError(f"failed to process {shown}: {err.message}") from None
        return Expansion(result, tuple(words), frozenset(run.matched), frozenset(run.unmatched))


def _quote(text: str) -> str:
    from .gostr import go_quote

    return go_quote(text)


class _Run:
    """One pass over one word (BuildKit's shellWord)."""

    def __init__(self, lexer: ShellLexer, text: str, env: Mapping[str, str]):
        self.lx = lexer
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lexer.raw_escapes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()
        self.depth = 0

    # scanner
    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        if self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            return ch
        return _EOF

    def stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        if self.depth > MAX_NESTING:
            raise ShellWordError(f"substitutions nested more than {MAX_NESTING} levels deep")
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        self.depth += 1
        try:
            return self._stop_on(stop)
        finally:
            self.depth -= 1
            self.raw_escapes = saved

    def _stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        esc = self.lx.escape
        plain = _plain_run(esc + "$'\"" + stop)
        while self.peek() != _EOF:
            run = plain.match(self.text, self.pos)
            if run:  # ordinary characters, taken as one piece
                self.pos = run.end()
                result.append(run.group())
                words.add_string(run.group())
                continue
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words.result()
            if ch == "$":
                tmp = self.dollar()
                result.append(tmp)
                words.add_string(tmp)
            elif ch in "'\"" and self.lx.skip_quotes:
                words.add_char(self.next())
                result.append(ch)
            elif ch == "'":
                tmp = self.single_quote()
                result.append(tmp)
                words.add_raw(tmp)
            elif ch == '"':
                tmp = self.double_quote()
                result.append(tmp)
                words.add_raw(tmp)
            else:
                ch = self.next()
                if ch == esc:
                    if self.raw_escapes:
                        words.add_raw(ch)
                        result.append(ch)
                    ch = self.next()
                    if ch == _EOF:
                        break
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop:
            raise ShellWordError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def single_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lx.raw_quotes:
            out.append(ch)
        end = self.text.find("'", self.pos)
        if end == -1:
            self.pos = len(self.text)
            raise ShellWordError("unexpected end of statement while looking for matching single-quote")
        out.append(self.text[self.pos:end])
        self.pos = end + 1
        if self.lx.raw_quotes:
            out.append("'")
        return "".join(out)

    def double_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lx.raw_quotes:
            out.append(ch)
        esc = self.lx.escape
        plain = _plain_run(esc + '$"')
        while True:
            run = plain.match(self.text, self.pos)
            if run:
                self.pos = run.end()
                out.append(run.group())
            nxt = self.peek()
            if nxt == _EOF:
                raise ShellWordError("unexpected end of statement while looking for matching double-quote")
            if nxt == '"':
                ch = self.next()
                if self.lx.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if nxt == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == esc:
                if self.raw_escapes:
                    out.append(ch)
                after = self.peek()
                if after == _EOF:
                    continue  # an escape at the end of the word is dropped
                if after in ('"', "$", esc):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        fast = _ASCII_NAME.match(self.text, self.pos)
        if fast and (fast.end() == len(self.text) or self.text[fast.end()].isascii()):
            self.pos = fast.end()
            return fast.group()
        out: list[str] = []
        while self.peek() != _EOF:
            ch = self.peek()
            if not out and is_digit(ch):
                while self.peek() != _EOF and is_digit(self.peek()):
                    out.append(self.next())
                return "".join(out)
            if not out and ch in _SPECIAL_PARAMS:
                return self.next()
            if not (is_letter(ch) or is_digit(ch) or ch == "_"):
                break
            out.append(self.next())
        return "".join(out)

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.lx.skip_unset:
                return "$" + name
            return value

        self.next()
        nxt = self.peek()
        if nxt == _EOF:
            raise ShellWordError("syntax error: missing '}'")
        if nxt in "{}:":
            raise ShellWordError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        chs = ch
        if ch == "}":
            value, found = self.lookup(name)
            if not found and self.lx.skip_unset:
                return "${%s}" % name
            return value
        if ch == ":":
            ch = self.next()
            return self._modifier(name, ch, chs + ch, null_is_unset=True)
        if ch and ch in "+-?#%":
            return self._modifier(name, ch, chs, null_is_unset=False)
        if ch == "/":
            return self._replace(name)
        if ch == _EOF:
            raise ShellWordError("syntax error: missing '}'")
        raise ShellWordError(f"unsupported modifier ({chs}) in substitution")

    def _read_to_close(self, raw_escapes: bool) -> str:
        try:
            word, _ = self.stop_on("}", raw_escapes)
        except ShellWordError:
            if self.peek() == _EOF:
                raise ShellWordError("syntax error: missing '}'") from None
            raise
        return word

    def _modifier(self, name: str, ch: str, chs: str, null_is_unset: bool) -> str:
        word = self._read_to_close(ch in ("#", "%"))
        value, found = self.lookup(name)
        if self.lx.skip_unset and not found:
            return "${%s%s%s}" % (name, chs, word)
        empty = not found or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not found:
                raise ShellWordError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise ShellWordError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = word[:1] == ch
            if greedy:
                word = word[1:]
            if ch == "%":
                return glob.trim_suffix(word, value, greedy)
            return glob.trim_prefix(word, value, greedy)
        raise ShellWordError(f"unsupported modifier ({chs}) in substitution")

    def _replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        try:
            pattern, _ = self.stop_on("/", True)
        except ShellWordError:
            if self.peek() == _EOF:
                raise ShellWordError("syntax error: missing '/' in ${}") from None
            raise
        replacement = self._read_to_close(True)
        value, found = self.lookup(name)
        if self.lx.skip_unset and not found:
            return "${%s/%s/%s}" % (name, pattern, replacement)
        return glob.replace(pattern, value, replacement, every=replace_all)


@functools.lru_cache(maxsize=None)
def _plain_run(specials: str) -> re.Pattern[str]:
    """A run of characters that are none of `specials` (handled one at a time)."""
    return re.compile("[^%s]+" % re.escape(specials))


_DEFAULT = {"\\": ShellLexer("\\"), "`": ShellLexer("`")}


def _lexer(escape: str) -> ShellLexer:
    try:
        return _DEFAULT[escape]
    except KeyError:
        raise ValueError("escape must be \\ or `") from None


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand variables and remove quotes; the result is one string."""
    return _lexer(escape).process(word, env).word


def expand_heredoc(body: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand variables and escapes in a heredoc body; quotes are kept as written."""
    return ShellLexer(escape, skip_quotes=True).process(body, env).word


def expand_words(word: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand variables and remove quotes, then split on unquoted whitespace."""
    return list(_lexer(escape).process(word, env).words)
