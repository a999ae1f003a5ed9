"""builder.record: a @record class behaves as the @dataclass(frozen=True) it replaces
(the instruction types are records: every build creates them, and the cache keys, plans and
explanations compare, hash, print and replace them)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from runtime.record import Record, record


@dataclass(frozen=True)
class DBase:
    keyword: str
    original: str = field(default="", compare=False)


@dataclass(frozen=True)
class DCopy(DBase):
    sources: tuple[str, ...] = ()
    tags: list = field(default_factory=list, repr=False, compare=False)


@record
class RBase(Record):
    keyword: str
    original: str = field(default="", compare=False)


@record
class RCopy(RBase):
    sources: tuple[str, ...] = ()
    tags: list = field(default_factory=list, repr=False, compare=False)


CALLS = [  # (args, kwargs) given to both
    (("COPY",), {}),
    (("COPY", "COPY a b"), {"sources": ("a",)}),
    ((), {"keyword": "COPY", "original": "x", "sources": ("a", "b"), "tags": [1]}),
    (("COPY", "y", ("a",)), {}),
]
BAD_CALLS = [((), {}), (("COPY",), {"bogus": 1}), (("COPY", "a", (), [], "extra"), {}), (("COPY",), {"keyword": "X"})]


def _same(d, r) -> None:
    assert repr(r) == repr(d).replace("DCopy", "RCopy")
    assert [f.name for f in dataclasses.fields(r)] == [f.name for f in dataclasses.fields(d)]
    assert dataclasses.asdict(r) == dataclasses.asdict(d)


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_a_record_is_built_printed_and_read_as_the_frozen_dataclass(args, kwargs):
    d, r = DCopy(*args, **kwargs), RCopy(*args, **kwargs)
    _same(d, r)
    _same(dataclasses.replace(d, sources=("z",)), dataclasses.replace(r, sources=("z",)))
    assert dataclasses.is_dataclass(r) and RCopy.__match_args__ == DCopy.__match_args__
    assert pickle.loads(pickle.dumps(r)) == r and copy.deepcopy(r) == r


def test_equality_and_hash_leave_out_uncompared_fields_and_other_classes():
    a, b = RCopy("COPY", "first text", ("a",)), RCopy("COPY", "second text", ("a",))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert (hash(a), a == b) == (hash(DCopy("COPY", "first text", ("a",))), DCopy("COPY", "t", ("a",)) == DCopy("COPY", "u", ("a",)))
    assert a != RCopy("COPY", "first text", ("b",))
    assert a != RBase("COPY") and RBase("COPY") != a  # exactly the same class, as a dataclass
    assert DCopy("COPY") != DBase("COPY")


def test_defaults_made_by_a_factory_are_not_shared():
    one, two = RCopy("COPY"), RCopy("COPY")
    one.tags.append(1)
    assert two.tags == []


@pytest.mark.parametrize(("args", "kwargs"), BAD_CALLS)
def test_a_wrong_call_is_a_type_error_as_for_the_dataclass(args, kwargs):
    with pytest.raises(TypeError):
        DCopy(*args, **kwargs)
    with pytest.raises(TypeError):
        RCopy(*args, **kwargs)


def test_a_record_is_frozen():
    r = RCopy("COPY")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.sources = ("x",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        del r.keyword
