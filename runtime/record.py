"""`@record`: a frozen dataclass that costs nothing to define.

`@dataclass(frozen=True)` writes and compiles six methods for every class when its module
is imported (about 1.3 ms a class here); the instruction types alone are 24 classes, paid by
every build, even one whose every step hits. A record is the same dataclass to every
reader (`dataclasses.fields`, `replace`, `asdict`, `is_dataclass`, `__match_args__`) whose
`__init__`, `__eq__`, `__hash__`, `__repr__` and frozen `__setattr__`/`__delattr__` are
generic methods of one base class, compiled once with this module. They behave as the
generated ones: equality and hash over the fields with compare=True, for objects of
exactly the same class; repr over those with repr=True; assignment raises
FrozenInstanceError.

    @record
    class Copy(Command):
        sources: tuple[str, ...] = ()

A record's class must derive from Record (directly or through another record) and holds
no __post_init__ (use a plain dataclass for that). It lives in runtime, which imports
nothing of cairn's, so that the runtime's Spec and all of builder can use it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, FrozenInstanceError
from typing import ClassVar


class Record:
    __slots__ = ()
    _init_names: ClassVar[tuple[str, ...]] = ()
    _init_defaults: ClassVar[dict] = {}  # name -> (is_factory, value)
    _compare_names: ClassVar[tuple[str, ...]] = ()
    _hash_names: ClassVar[tuple[str, ...]] = ()
    _repr_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args, **kwargs):
        cls = type(self)
        names = cls._init_names
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments but {len(args)} were given")
        put = object.__setattr__
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"{cls.__name__}() got multiple values for argument {name!r}")
            put(self, name, value)
        defaults = cls._init_defaults
        for name in names[len(args):]:
            if name in kwargs:
                put(self, name, kwargs.pop(name))
            elif name in defaults:
                factory, value = defaults[name]
                put(self, name, value() if factory else value)
            else:
                raise TypeError(f"{cls.__name__}() missing required argument {name!r}")
        if kwargs:  # (what is left names no field)
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {next(iter(kwargs))!r}")

    def _compared(self) -> tuple:
        return tuple(getattr(self, n) for n in type(self)._compare_names)

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return self._compared() == other._compared()
        return NotImplemented

    def __hash__(self):
        return hash(tuple(getattr(self, n) for n in type(self)._hash_names))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in type(self)._repr_names)
        return f"{type(self).__qualname__}({fields})"

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")


def record(cls: type) -> type:
    if not issubclass(cls, Record):
        raise TypeError(f"@record class {cls.__name__} must derive from Record")
    if "__post_init__" in cls.__dict__ or "__eq__" in cls.__dict__:  # (an __eq__ of its own unsets __hash__)
        raise TypeError(f"@record class {cls.__name__} cannot have __post_init__ or __eq__")
    if cls.__doc__ is None:
        cls.__doc__ = cls.__name__  # (else dataclasses computes a signature for it)
    # only the fields: no method is generated (init, repr and eq come from Record)
    cls = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    fields = dataclasses.fields(cls)
    cls._init_names = tuple(f.name for f in fields if f.init)
    cls._init_defaults = {f.name: (f.default_factory is not MISSING,
                                   f.default_factory if f.default_factory is not MISSING else f.default)
                          for f in fields if f.init and (f.default is not MISSING or f.default_factory is not MISSING)}
    cls._compare_names = tuple(f.name for f in fields if f.compare)
    cls._hash_names = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
    cls._repr_names = tuple(f.name for f in fields if f.repr)
    return cls
