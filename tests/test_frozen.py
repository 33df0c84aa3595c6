"""mlc.frozen: the decorator of IR nodes and of the value types (targets, options,
configuration) behaves as ``dataclass(frozen=True, slots=True)``, built more cheaply."""
import copy
import dataclasses
import pickle

import pytest
from hypothesis import given, strategies as st

import mlc
from mlc.frozen import frozen
from mlc.ir.node import node


@frozen
class Point:
    """A point."""
    x: int
    y: float = 0.5
    tags: tuple = dataclasses.field(default_factory=tuple)


@frozen
class Checked:
    n: int

    def __post_init__(self):
        if self.n < 0:
            raise ValueError("n must be non-negative")
        object.__setattr__(self, "n", self.n * 2)  # a normalising post-init, as nodes have


@frozen(eq=False, repr=False)
class Base:
    a: int

    def __repr__(self):
        return "<base>"


@frozen
class Derived(Base):
    b: str = "b"


@dataclasses.dataclass(frozen=True, slots=True)
class Stock:
    """The stdlib's frozen dataclass, for comparison."""
    x: int
    y: float = 0.5
    tags: tuple = dataclasses.field(default_factory=tuple)


def test_it_is_a_frozen_slotted_dataclass():
    p = Point(1)
    assert (p.x, p.y, p.tags) == (1, 0.5, ())
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags"]
    assert dataclasses.replace(p, y=2.0) == Point(1, 2.0)
    assert dataclasses.asdict(p) == {"x": 1, "y": 0.5, "tags": ()}
    assert Point.__match_args__ == ("x", "y", "tags")
    assert not hasattr(p, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError, match="'x'"):
        p.x = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.y
    with pytest.raises(AttributeError):
        p.z = 3  # no such slot: still refused
    assert Point.__doc__ == "A point."


def test_the_init_signature_is_the_dataclass_one():
    assert Point(1, 2.0, ("t",)) == Point(x=1, tags=("t",), y=2.0)
    with pytest.raises(TypeError):
        Point()
    with pytest.raises(TypeError):
        Point(1, 2.0, (), 4)
    with pytest.raises(TypeError):
        Point(1, q=2)

    @frozen
    class Bag:
        items: list = dataclasses.field(default_factory=list)

    assert Bag().items == [] and Bag().items is not Bag().items  # the factory runs per call


def test_post_init_runs_and_may_normalise():
    assert Checked(3).n == 6
    with pytest.raises(ValueError, match="non-negative"):
        Checked(-1)


def test_eq_hash_repr_as_the_stdlib_frozen_dataclass():
    assert repr(Point(1, 2.0)) == repr(Stock(1, 2.0)).replace("Stock", "Point")
    assert Point(1) == Point(1) and Point(1) != Point(2) and Point(1) != (1, 0.5, ())
    assert hash(Point(1, 2.0, ("a",))) == hash(Stock(1, 2.0, ("a",)))
    assert len({Point(1), Point(1), Point(2)}) == 2


def test_eq_false_is_identity_and_a_class_keeps_its_own_methods():
    a = Base(1)
    assert a == a and a != Base(1) and hash(a) == object.__hash__(a)
    assert repr(a) == "<base>"
    d = Derived(1)
    assert (d.a, d.b) == (1, "b") and repr(d) == "Derived(a=1, b='b')"
    assert d == Derived(1) and hash(d) == hash(Derived(1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.a = 2


@given(st.integers(), st.floats(allow_nan=False), st.lists(st.text(max_size=3), max_size=3).map(tuple))
def test_pickle_copy_and_replace_round_trip(x, y, tags):
    p = Point(x, y, tags)
    for q in (pickle.loads(pickle.dumps(p)), copy.copy(p), copy.deepcopy(p), dataclasses.replace(p)):
        assert q == p and type(q) is Point
    checked = Checked(abs(x))
    assert pickle.loads(pickle.dumps(checked)).n == checked.n  # unpickling runs no __post_init__


def test_fields_beyond_a_default_are_refused():
    with pytest.raises(TypeError, match="only a default value or a default_factory"):
        @frozen
        class Bad:
            a: int = dataclasses.field(default=1, kw_only=True)
    with pytest.raises(TypeError, match="InitVar"):
        @frozen
        class Bad2:
            a: dataclasses.InitVar[int]


def test_ir_nodes_are_frozen_identity_compared_and_pickle():
    x = mlc.ir.Var("x", "int32")
    assert dataclasses.replace(x, name="y").name == "y"
    with pytest.raises(dataclasses.FrozenInstanceError):
        x.name = "z"
    y = pickle.loads(pickle.dumps(x))
    assert (y.name, y.dtype) == ("x", "int32") and y is not x
    assert mlc.ir.structural_equal(x + 1, x + 1)

    @node
    class Leaf:
        v: int

    assert Leaf(1) != Leaf(1) and Leaf(1).v == 1



class _Kept:
    """A base keeping a value of its own beside the fields (as IR nodes keep their census)."""
    __slots__ = ("_kept", "__weakref__")


@frozen(eq=False)
class WithKept(_Kept):
    a: int


def test_a_slot_a_base_declares_besides_the_fields_starts_as_none():
    """Read before it is set, the slot is None (not an unset slot, which ``getattr`` reads
    through an exception); fields, replace and pickling are as before."""
    w = WithKept(3)
    assert w._kept is None and w.a == 3
    assert [f.name for f in dataclasses.fields(WithKept)] == ["a"]
    object.__setattr__(w, "_kept", 7)
    assert dataclasses.replace(w, a=4)._kept is None
    assert pickle.loads(pickle.dumps(w)).a == 3
    assert mlc.ir.Var("x", "int32")._census is None  # (the IR's census, before it is counted)
