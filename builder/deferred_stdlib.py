"""Standard modules click imports but a short cairn command never uses, loaded on first use.

`import click` loads inspect (with ast, dis, tokenize, linecache), uuid (with platform),
datetime and gettext, whose first call loads locale: ~15-25 ms of every `cairn` start
(issue 17), for `inspect.cleandoc` on each option's help, `inspect.isfunction`, two
subscripts `ParamType[uuid.UUID]` / `ParamType[datetime]` and `_()` on messages no catalogue
translates. `install()` puts a stand-in module in sys.modules for each of them that is not
loaded yet. A stand-in answers those few names itself (with the real module's results) and
loads the real module, once, for any other name: `import inspect; inspect.X` and
`from inspect import X` then get the real X, and later imports get the real module.

Names answered without the real module:
- inspect.cleandoc, inspect.isfunction: our own, equal to the real ones
  (tests/test_deferred_stdlib.py);
- gettext.gettext, gettext.ngettext: the message itself while no catalogue can be found (the
  real gettext not loaded, so domain "messages" in `sys.base_prefix/share/locale`, and that
  directory missing, and no language naming a path); otherwise the real functions;
- datetime's public names (date, datetime, timezone, ...): the C accelerator's objects, which
  are the real module's (datetime.py is not run);
- uuid.UUID, asked by click.types' module code only (a type argument): a class that forwards
  isinstance, calls and attributes to the real class;
- urllib.parse.quote_from_bytes (pathlib imports it for Path.as_uri; urllib.parse imports
  ipaddress): a function that calls the real one;
- shutil.get_terminal_size (click's help formatter; shutil imports zlib, bz2 and lzma): our own,
  equal to the real one.

`install()` also marks Windows' `nt` and `_winapi` absent in sys.modules on POSIX (ABSENT).
CAIRN_DEFER_STDLIB=0 turns it off; `cairn serve` never uses it (a long-running process).
"""

from __future__ import annotations

import os
import sys
import types
from _thread import RLock

SWITCH = "CAIRN_DEFER_STDLIB"
MODULES = ("inspect", "uuid", "datetime", "gettext", "urllib.parse", "shutil")
# Windows' own modules, which ntpath (pathlib imports it) tries five and one times, each a
# failed search of every sys.path entry (~0.8 ms of a start): marked absent, an import of
# them fails at once with the same ModuleNotFoundError
ABSENT = ("nt", "_winapi")

_lock = RLock()
_real: dict[str, types.ModuleType] = {}  # name -> the real module, once loaded
_NONE = object()


def install(args: list[str] | tuple[str, ...] = ()) -> None:
    """Stand-ins for MODULES not imported yet (none with CAIRN_DEFER_STDLIB=0 or for `serve`)."""
    if os.environ.get(SWITCH) == "0" or "serve" in args:
        return
    for name in MODULES:
        if name not in sys.modules:
            stand_in = sys.modules[name] = Deferred(name)
            package, _, leaf = name.rpartition(".")
            if package:  # (`import urllib.parse; urllib.parse.X` finds it as the package's attribute)
                setattr(__import__(package), leaf, stand_in)
    if os.name == "posix":
        for name in ABSENT:
            sys.modules.setdefault(name, None)


def loaded(name: str) -> bool:
    """Whether the real module `name` has been loaded in this process."""
    module = sys.modules.get(name)
    return module is not None and not isinstance(module, Deferred)


class Deferred(types.ModuleType):
    """A module not loaded yet: answers a few names, loads the real module for any other."""

    def __getattr__(self, name: str):
        real = _real.get(self.__name__)
        if real is None:
            if name == "__path__":  # (none is a package: `from X import Y` asks for it first)
                raise AttributeError(name)
            answer = _ANSWERS[self.__name__](name)
            if answer is not _NONE:
                return answer
            real = _load(self)
        return getattr(real, name)

    def __dir__(self):
        return dir(_load(self))


def _load(stand_in: Deferred) -> types.ModuleType:
    name = stand_in.__name__
    with _lock:
        real = _real.get(name)
        if real is None:
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
            try:
                __import__(name)  # (sets the package's attribute to the real module too)
                real = sys.modules[name]
            except BaseException:
                sys.modules.setdefault(name, stand_in)
                raise
            _real[name] = real
    return real


def _module_of(name: str) -> types.ModuleType:
    stand_in = sys.modules.get(name)
    if isinstance(stand_in, Deferred):
        return _load(stand_in)
    if stand_in is None:
        __import__(name)
    return sys.modules[name]


# -- inspect


def cleandoc(doc):
    """inspect.cleandoc: tabs expanded to 8 columns; the first line's leading whitespace and
    the least indentation of the later lines that hold text removed; empty lines at both ends
    dropped."""
    lines = doc.expandtabs().split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if not line.isspace() and line]
    cut = min(indents, default=0)
    lines = [lines[0].lstrip()] + [line[cut:] for line in lines[1:]]
    first = next((i for i, line in enumerate(lines) if line), len(lines))
    last = next((i for i in range(len(lines) - 1, -1, -1) if lines[i]), -1)
    return "\n".join(lines[first:last + 1])


def isfunction(obj) -> bool:
    """inspect.isfunction: a function written in Python (def or lambda)."""
    return isinstance(obj, types.FunctionType)


def _inspect(name: str):
    return {"cleandoc": cleandoc, "isfunction": isfunction}.get(name, _NONE)


# -- gettext


def gettext(message: str) -> str:
    """gettext.gettext: the message itself when no catalogue can be found."""
    if _untranslated():
        return message
    return _module_of("gettext").gettext(message)


def ngettext(msgid1: str, msgid2: str, n: int) -> str:
    """gettext.ngettext: the singular for 1, else the plural, when no catalogue can be found."""
    if _untranslated():
        return msgid1 if n == 1 else msgid2
    return _module_of("gettext").ngettext(msgid1, msgid2, n)


def _untranslated() -> bool:
    """True when gettext would find no catalogue. It looks for the domain's .mo file under
    <localedir>/<language>/LC_MESSAGES for each language of the first set of LANGUAGE, LC_ALL,
    LC_MESSAGES, LANG; with its defaults (the real module unloaded: nothing changed them)
    and a language without "/", every candidate is inside the default localedir."""
    if "gettext" in _real or loaded("gettext"):
        return False
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            if "/" in value:
                return False
            break
    return not os.path.isdir(os.path.join(sys.base_prefix, "share", "locale"))


def _gettext(name: str):
    return {"gettext": gettext, "ngettext": ngettext}.get(name, _NONE)


# -- datetime: `from datetime import datetime` (click.types, our modules), sqlite3's date/time/datetime

# the public names of datetime: on CPython the module ends with `from _datetime import *`, so
# each is the C accelerator's object (tests/test_deferred_stdlib.py checks they are the same)
_DATETIME_NAMES = ("date", "datetime", "time", "timedelta", "timezone", "tzinfo", "MINYEAR", "MAXYEAR", "UTC")


def _datetime(name: str):
    """The accelerator's object for a public name: the real module's, without running
    datetime.py's pure-Python definitions (~2-3 ms)."""
    if name not in _DATETIME_NAMES:
        return _NONE
    try:
        import _datetime
    except ImportError:  # (no accelerator: the real module)
        return _NONE
    return getattr(_datetime, name)


# -- uuid: click.types' `class UUIDParameterType(ParamType[uuid.UUID])`


class _Forwarding(type):
    """The type of a stand-in class: isinstance, issubclass, calls and attributes go to the
    real class, loaded on the first of them."""

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, _target(cls))

    def __subclasscheck__(cls, sub) -> bool:
        return issubclass(sub, _target(cls))

    def __call__(cls, *args, **kwargs):
        return _target(cls)(*args, **kwargs)

    def __getattr__(cls, name: str):
        return getattr(_target(cls), name)


def _target(cls) -> type:
    return getattr(_module_of(cls.__module__), cls.__qualname__)


_UUID: list = []  # the stand-in for uuid.UUID, made once


def _uuid(name: str):
    """uuid.UUID for click.types' module code only (a type argument it never looks at again):
    the real uuid imports platform; anyone else gets the real class."""
    caller = sys._getframe(2)
    if name != "UUID" or caller.f_code.co_name != "<module>" or caller.f_globals.get("__name__") != "click.types":
        return _NONE
    if not _UUID:
        _UUID.append(_Forwarding("UUID", (), {"__module__": "uuid", "__qualname__": "UUID"}))
    return _UUID[0]


# -- urllib.parse: pathlib's `from urllib.parse import quote_from_bytes` (for as_uri), ~12M
# instructions with ipaddress, on every path (the store's paths are pathlib's)


def quote_from_bytes(*args, **kwargs):
    """urllib.parse.quote_from_bytes, the real one (loaded on the first call)."""
    return _module_of("urllib.parse").quote_from_bytes(*args, **kwargs)


def _urllib_parse(name: str):
    return quote_from_bytes if name == "quote_from_bytes" else _NONE


# -- shutil: click's help formatter asks get_terminal_size (shutil loads zlib, bz2 and lzma)


def get_terminal_size(fallback=(80, 24)):
    """shutil.get_terminal_size: COLUMNS and LINES when each is a positive number; the size of
    the terminal on the original stdout for a missing one (its 0 or no terminal: the fallback)."""
    wanted = [_positive_env("COLUMNS"), _positive_env("LINES")]
    if 0 in wanted:
        try:
            found = os.get_terminal_size(sys.__stdout__.fileno())
        except (AttributeError, ValueError, OSError):
            found = os.terminal_size(fallback)
        wanted = [w or f or d for w, f, d in zip(wanted, found, fallback)]
    return os.terminal_size(wanted)


def _positive_env(name: str) -> int:
    try:
        return max(int(os.environ[name]), 0)
    except (KeyError, ValueError):
        return 0


def _shutil(name: str):
    return get_terminal_size if name == "get_terminal_size" else _NONE


_ANSWERS = {"inspect": _inspect, "gettext": _gettext, "uuid": _uuid, "datetime": _datetime,
            "urllib.parse": _urllib_parse, "shutil": _shutil}
