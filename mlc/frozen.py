"""``frozen``: immutable, slotted dataclasses that are cheap to define and to build.

``@frozen`` behaves as ``@dataclass(frozen=True, slots=True)``: ``dataclasses.fields``
and ``dataclasses.replace`` work, assignment raises ``FrozenInstanceError``, instances
pickle and copy, and ``eq``/``repr`` (both on by default) compare, hash and print by
fields::

    >>> @frozen
    ... class Pair:
    ...     a: int
    ...     b: int = 0
    >>> p = Pair(1)
    >>> p, p == Pair(1, 0), dataclasses.replace(p, b=2).b
    (Pair(a=1, b=0), True, 2)
    >>> p.a = 5
    Traceback (most recent call last):
    dataclasses.FrozenInstanceError: cannot assign to field 'a'

It is made differently, for speed:

- ``__init__`` stores each field through its slot's descriptor: about twice as fast
  as the stock frozen ``__init__`` (an ``object.__setattr__`` per field). Passes build
  hundreds of thousands of IR nodes in a compile.
- A slot that a base class declares besides the fields (a value the class keeps for
  itself, as the IR's nodes keep their census) starts as None: reading an unset slot
  raises inside ``getattr(node, name, None)``, several times the cost of a read, and
  the walks read such a slot of every node they meet.
- ``__setattr__``, ``__delattr__``, ``__eq__``, ``__hash__``, ``__repr__``,
  ``__getstate__`` and ``__setstate__`` are functions shared by every class instead
  of source compiled for each, which is most of what a frozen dataclass costs to
  define: ``import mlc`` defines about forty of them.

Fields are plain: a type, and a default value or ``field(default_factory=...)``.
"""
from __future__ import annotations

import dataclasses

__all__ = ["frozen"]


def frozen(cls=None, /, *, eq: bool = True, repr: bool = True):
    """Make ``cls`` a frozen, slotted dataclass; ``eq``/``repr`` as for ``dataclass``."""
    def wrap(cls):
        own = set(cls.__dict__)
        if cls.__dict__.get("__hash__", 0) is None and "__eq__" in own:
            own.discard("__hash__")  # Python's implicit None for a class that defines __eq__
        cls = dataclasses.dataclass(init=False, slots=True, eq=False, repr=False)(cls)
        fields = dataclasses.fields(cls)
        _check_plain(cls, fields)
        cls._frozen_fields = tuple(f.name for f in fields)
        shared = {"__setattr__": _frozen_setattr, "__delattr__": _frozen_delattr,
                  "__getstate__": _getstate, "__setstate__": _setstate}
        if eq:
            shared.update(__eq__=_eq, __hash__=_hash)
        if repr:
            shared["__repr__"] = _repr
        for name, function in shared.items():
            if name not in own:  # what the class defines itself wins, as with dataclass
                setattr(cls, name, function)
        cls.__init__ = _make_init(cls, fields)
        return cls

    return wrap if cls is None else wrap(cls)


def _check_plain(cls, fields) -> None:
    if len(fields) != len(cls.__dataclass_fields__):
        raise TypeError(f"frozen {cls.__name__}: InitVar and ClassVar fields are not supported")
    for f in fields:
        if not f.init or f.kw_only or not f.compare or f.hash is not None:
            raise TypeError(f"frozen {cls.__name__}.{f.name}: only a default value or a "
                            f"default_factory is supported in field()")


def _make_init(cls, fields):
    """``__init__(self, a, b=<default>)`` storing each argument through its slot."""
    scope: dict = {"_MISSING": dataclasses.MISSING}
    params, body = ["self"], []
    for n, (name, owner) in enumerate(_kept_slots(cls, {f.name for f in fields})):
        scope[f"_keep_{n}"] = owner.__dict__[name].__set__
        body.append(f"    _keep_{n}(self, None)")
    for f in fields:
        # the slot may belong to a base class: the first along the MRO that has it
        owner = next(c for c in cls.__mro__ if f.name in c.__dict__)
        scope[f"_set_{f.name}"] = owner.__dict__[f.name].__set__
        if f.default is not dataclasses.MISSING:
            scope[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            scope[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_MISSING")
            body.append(f"    if {f.name} is _MISSING: {f.name} = _factory_{f.name}()")
        else:
            params.append(f.name)
        body.append(f"    _set_{f.name}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__({', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _kept_slots(cls, fields: set[str]) -> list[tuple[str, type]]:
    """(name, the class declaring it) of each slot of ``cls``'s bases that is not a field
    (``__weakref__`` and ``__dict__`` aside)."""
    out, seen = [], set(fields)
    for c in cls.__mro__:
        slots = c.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in seen and not name.startswith("__"):
                seen.add(name)
                out.append((name, c))
    return out


def _frozen_setattr(self, name, value):
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self, name):
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self):
    return [getattr(self, name) for name in self._frozen_fields]


def _setstate(self, state):
    for name, value in zip(self._frozen_fields, state):
        object.__setattr__(self, name, value)


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _getstate(self) == _getstate(other)


def _hash(self):
    return hash(tuple(_getstate(self)))


def _repr(self):
    fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._frozen_fields)
    return f"{self.__class__.__qualname__}({fields})"
