"""Split a jitted call's arguments into static values and dynamic array leaves.

The compile-cache key of a call is built here from cheap tuples: each
dynamic leaf's shape and dtype (or its Python scalar kind), the pytree
structure, and the static arguments' values. Nothing is traced or hashed
beyond that.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from ..errors import DTypeError, TraceError
from ..ir import dtype as dt
from ..runtime.memory import dlpack_memory_kind, memory, memory_kind_of
from ..runtime.ndarray import FAST_DEVICE_ARRAYS, Device, is_masked_array, subclass_refusal, to_device
from .pytree import flatten
from .tracer import Tracer

__all__ = ["ArgumentSpec", "leaf_signature", "static_key", "WideInt", "WEAK_DTYPES", "fast_key", "fast_leaves",
           "keyed_arguments", "passes_through"]

#: The dtype a Python number of each type is passed as (NumPy 2's weak scalars: the type, not
#: the value, is its part of a compile-cache key).
WEAK_DTYPES = {bool: "bool", int: "int64", float: "float64", complex: "complex128"}

#: The native-byte-order dtypes a plain ndarray may have, and their names (NumPy computes
#: ``dtype.name`` in Python, 1.4 µs a call: a jitted call's signature looks names up here).
_SUPPORTED_NAMES = {np.dtype(name): name for name in dt.SUPPORTED}


class WideInt(int):
    """A Python int argument that int64 cannot hold (``2**70``, ``2**64 - 1``).

    Its cache-key part: such an int is traced as a constant, so the function
    compiles once per value and NumPy 2's exact rules for huge Python ints
    apply (comparisons, ``clip`` bounds, ``uint64`` arithmetic).
    """
    __slots__ = ()


def fast_key(args) -> tuple | None:
    """The cache-hit key of a positional call of ndarrays and Python numbers (the arrays'
    shapes and dtypes, the numbers' types; a GPU array's type too), else None.

    >>> fast_key((np.ones((2, 3), "float32"), 0.5))
    ((2, 3), dtype('float32'), <class 'float'>)
    >>> fast_key(([1, 2],)) is None
    True
    """
    key: list = []
    for a in args:
        if not _dynamic_part(a, key):
            return None
    return tuple(key)


def _dynamic_part(a, parts: list) -> bool:
    """Append a dynamic argument's part of a fast key to ``parts`` (an array's shape and
    dtype, a number's type); False for anything else."""
    t = type(a)
    if t is np.ndarray:
        parts += (a.shape, a.dtype)
    elif t in WEAK_DTYPES:
        parts.append(t)
    elif t in FAST_DEVICE_ARRAYS:  # a CuPy array: its type too (it is passed as it is, not copied)
        parts += (t, a.shape, a.dtype)
    else:
        return False
    return True


def fast_leaves(args) -> list | tuple | None:
    """What a cache-hit call of :func:`fast_key`'s arguments passes: its arrays as they
    are, its Python numbers as 0-d arrays of their dtypes (as :func:`leaf_signature` makes
    them); None for an int that int64 cannot hold (traced as a constant: the general path)."""
    out = None  # (one loop, no generator: this is most of a hit's cost with a scalar)
    for n, a in enumerate(args):
        dtype = _WEAK_DTYPE_OBJECTS.get(type(a))
        if dtype is not None:
            if out is None:
                out = list(args)
            try:
                out[n] = _asarray(a, dtype)
            except OverflowError:
                return None
    return args if out is None else out


#: WEAK_DTYPES as dtype objects (``np.asarray`` parses a dtype's name at every call)
_WEAK_DTYPE_OBJECTS = {kind: np.dtype(name) for kind, name in WEAK_DTYPES.items()}
_asarray = np.asarray


def keyed_arguments(args: tuple, kwargs: dict, where) -> list:
    """A call's dynamic arguments in the order of its leaves, ``where`` being
    :meth:`ArgumentSpec.dynamic_of` of it (positions, then keywords' names)."""
    positions, names = where
    return [args[n] for n in positions] + [kwargs[name] for name in names]


def passes_through(args, leaves) -> bool:
    """Whether a call's positional ``args`` are its ``leaves`` one for one: each the very
    array passed, or a Python number passed as an array (not a :class:`WideInt`, which
    is traced): such a call's :func:`fast_key` may stand for its signature."""
    return len(args) == len(leaves) and \
        all(a is b or (type(a) in WEAK_DTYPES and type(b) is not WideInt) for a, b in zip(args, leaves))


def leaf_signature(leaf, where):
    """(cache-key part, array to pass, weak) for one dynamic leaf; typed error otherwise.

    Arrays in a device's memory (:mod:`mlc.runtime.memory`: CuPy's on a GPU) pass as
    they are, for a module of that device; other objects with ``__dlpack__`` are taken
    without a copy, as a NumPy array when they live on the host and as the device
    memory's array (a CuPy array) on a device.

    ``where()`` describes the leaf for an error message ("argument 'x' of f()").
    A Python int that int64 cannot hold comes back as a :class:`WideInt` in
    both places: it is a constant of the trace, not an argument of the compiled
    function.
    """
    t = type(leaf)
    if t is np.ndarray:  # the common case: the dtype's name looked up, the array passed as it is
        name = _SUPPORTED_NAMES.get(leaf.dtype)
        if name is not None:
            return (leaf.shape, name), leaf, False
    if t is np.ndarray or isinstance(leaf, np.ndarray):
        if is_masked_array(leaf):
            raise DTypeError(f"{where()} is a masked array; compiled code would ignore its mask. "
                             "Pass plain data (np.ma.getdata(x), x.filled(value)) and the mask as "
                             "a separate bool array, combined with mlc.numpy.where")
        refusal = subclass_refusal(leaf)
        if refusal is not None:
            raise DTypeError(f"{where()} is {refusal}")
        if leaf.dtype.kind not in "biufc" or leaf.dtype.name not in dt.SUPPORTED:
            raise DTypeError(f"{where()}: arrays of dtype {leaf.dtype} are not supported; expected "
                             f"one of {', '.join(dt.SUPPORTED)}")
        if not leaf.dtype.isnative:
            leaf = leaf.astype(leaf.dtype.newbyteorder("="))
        return (leaf.shape, leaf.dtype.name), np.asarray(leaf), False
    if t in WEAK_DTYPES:
        try:
            value = np.asarray(leaf, WEAK_DTYPES[t])
        except OverflowError:  # a Python int past int64
            wide = WideInt(leaf)
            return ("wide int", wide), wide, True
        return t, value, True
    if isinstance(leaf, np.generic):  # a NumPy scalar: immutable, where a 0-d array is not (keyed apart)
        part, array, weak = leaf_signature(np.asarray(leaf), where)
        return (*part, "scalar"), array, weak
    kind = memory_kind_of(leaf)
    if kind is not None:  # a device's array (CuPy's, and Numba's, PyTorch's on a GPU)
        return _device_leaf(leaf, *memory(kind).shape_dtype(leaf), where)
    if hasattr(leaf, "__dlpack__"):
        kind = dlpack_memory_kind(leaf)
        if kind is None:
            return leaf_signature(np.from_dlpack(leaf), where)
        array = to_device(leaf, Device(kind, int(leaf.__dlpack_device__()[1])))  # (no copy)
        return _device_leaf(array, *memory(kind).shape_dtype(array), where)
    if isinstance(leaf, Tracer):
        raise TraceError(f"{where()} is a traced value from a finished trace; a traced value escaped "
                         "its jitted function (return it instead of storing it)")
    raise DTypeError(
        f"{where()} is a {type(leaf).__name__} ({leaf!r:.60}), which is not an array or a number. "
        "Pass arrays (or tuples/lists/dicts of them), or mark the argument static with "
        "@mlc.jit(static_argnums=...) or static_argnames=... so its value is part of the compiled "
        "function")


#: The last part of a GPU array's cache key: a signature with one is built for (and checked
#: against) a target whose functions take GPU arrays.
DEVICE_KEY = "gpu"


def _device_leaf(leaf, shape, dtype, where):
    """(key, the array as it is, weak) for an array in a device's memory: a module of that
    device takes it without a copy (:func:`mlc.runtime.ndarray.to_device`)."""
    if dtype.kind not in "biuf" or dtype.name not in dt.SUPPORTED:
        raise DTypeError(f"{where()}: arrays of dtype {dtype} are not supported; expected "
                         f"one of {', '.join(dt.SUPPORTED)}")
    return (tuple(shape), dtype.name, DEVICE_KEY), leaf, False


def static_key(value, where: str):
    """A hashable stand-in for a static argument (slices and lists made hashable)."""
    if isinstance(value, slice):
        return ("slice", static_key(value.start, where), static_key(value.stop, where),
                static_key(value.step, where))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(static_key(v, where) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((static_key(k, where), static_key(v, where)) for k, v in value.items())
    if isinstance(value, np.ndarray):
        raise TraceError(f"{where} is static but is a NumPy array; static arguments must be "
                         "hashable values (ints, strings, tuples); pass arrays as dynamic arguments")
    try:
        hash(value)
    except TypeError:
        raise TraceError(f"{where} is static but its value {value!r:.60} is not hashable; use a "
                         "tuple instead of a list, or make it hashable") from None
    # -0.0 == 0.0, yet they compute differently (and NaN != NaN would compile on every call)
    if isinstance(value, float):
        return (float, value.hex())
    if isinstance(value, complex):
        return (complex, value.real.hex(), value.imag.hex())
    if isinstance(value, np.inexact):
        return (type(value), value.tobytes())
    return (type(value), value)


@dataclass(frozen=True)
class ArgumentSpec:
    """Which of a function's arguments are static, by position and by name."""
    names: tuple[str, ...]            # positional parameter names, in order
    static_nums: frozenset[int]
    static_names: frozenset[str]

    @staticmethod
    def of(fn, static_argnums, static_argnames) -> ArgumentSpec:
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums or ())
        names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames or ())
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        positional = tuple(p.name for p in params if p.kind in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD))
        count = len(positional)
        resolved = set()
        for n in nums:
            if not isinstance(n, int) or isinstance(n, bool):
                raise TraceError(f"static_argnums must be ints, got {n!r}")
            if n < 0:
                if not count:
                    raise TraceError(f"static_argnums {n} is negative and the function's "
                                     "parameters are unknown")
                n += count
            resolved.add(n)
        all_names = {p.name for p in params}
        for name in names:
            if params and name not in all_names:
                raise TraceError(f"static_argnames names {name!r}, which is not a parameter of "
                                 f"{getattr(fn, '__name__', fn)}; it has {sorted(all_names)}")
        name_set = set(names)
        name_set.update(positional[n] for n in resolved if n < count)
        resolved.update(n for n, p in enumerate(positional) if p in name_set)
        return ArgumentSpec(positional, frozenset(resolved), frozenset(name_set))

    @property
    def has_static(self) -> bool:
        return bool(self.static_nums or self.static_names)

    def call_key(self, args: tuple, kwargs: dict) -> tuple | None:
        """The cache-hit key of a call with keywords or static arguments whose dynamic
        arguments are ndarrays and Python numbers: each positional argument's part (an
        array's shape and dtype, a number's type, a static value's :func:`static_key`),
        then each keyword's name and part in the call's order; None for any other call
        (a container or another object, a static value that :func:`static_key` refuses).

        >>> spec = ArgumentSpec(("x", "axis"), frozenset({1}), frozenset({"axis"}))
        >>> spec.call_key((np.ones(3, "int64"),), {"axis": 0})
        ((3,), dtype('int64'), 'axis', ('static', (<class 'int'>, 0)))
        """
        parts = []
        try:
            for n, a in enumerate(args):
                if n in self.static_nums:
                    parts.append(("static", static_key(a, "")))  # (refused: the general path says why)
                elif not _dynamic_part(a, parts):
                    return None
            for name, a in kwargs.items():
                parts.append(name)
                if name in self.static_names:
                    parts.append(("static", static_key(a, "")))
                elif not _dynamic_part(a, parts):
                    return None
        except TraceError:
            return None
        return tuple(parts)

    def dynamic_of(self, args: tuple, kwargs: dict) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """Where a call's dynamic arguments are, in the order of its leaves: the positions
        of the dynamic positional ones, then the names of the dynamic keywords, sorted (as
        :meth:`split` orders them)."""
        return (tuple(n for n in range(len(args)) if n not in self.static_nums),
                tuple(sorted(k for k in kwargs if k not in self.static_names)))

    def remembered(self, args: tuple, kwargs: dict, leaves) -> tuple | None:
        """(key, where) under which a call can be found again without its signature, given
        the ``leaves`` the signature passed: a positional call of a function without static
        arguments under its :func:`fast_key` (``where`` None: the arguments are the leaves),
        any other under its :meth:`call_key` with :meth:`dynamic_of` as ``where``; None
        where the leaves are not the arguments themselves (containers, an int traced as a
        constant) or the call has no such key."""
        if not kwargs and not self.has_static:
            key = fast_key(args) if passes_through(args, leaves) else None
            return None if key is None else (key, None)
        where = self.dynamic_of(args, kwargs)
        if not passes_through(keyed_arguments(args, kwargs, where), leaves):
            return None
        key = self.call_key(args, kwargs)
        return None if key is None else (key, where)

    def split(self, args: tuple, kwargs: dict):
        """(dynamic tree, static key, static values) of one call."""
        dyn_args, statics, keys = [], {}, []
        for n, a in enumerate(args):
            if n in self.static_nums:
                statics[n] = a
                name = self.names[n] if n < len(self.names) else n  # f(x, 3) == f(x, n=3)
                keys.append((name, static_key(a, self.describe(n))))
            else:
                dyn_args.append(a)
        dyn_kwargs = {}
        for name in sorted(kwargs):
            if name in self.static_names:
                statics[name] = kwargs[name]
                keys.append((name, static_key(kwargs[name], f"argument {name!r}")))
            else:
                dyn_kwargs[name] = kwargs[name]
        keys.sort(key=lambda kv: str(kv[0]))
        return (tuple(dyn_args), dyn_kwargs), tuple(keys), statics

    def merge(self, dynamic, statics: dict, n_args: int) -> tuple[tuple, dict]:
        """Rebuild (args, kwargs) from the dynamic tree and the static values."""
        dyn_args, dyn_kwargs = dynamic
        it = iter(dyn_args)
        args = tuple(statics[n] if n in statics else next(it) for n in range(n_args))
        kwargs = dict(dyn_kwargs)
        kwargs.update((k, v) for k, v in statics.items() if isinstance(k, str))
        return args, kwargs

    def describe(self, n: int) -> str:
        return f"argument {self.names[n]!r}" if n < len(self.names) else f"positional argument {n}"

    def leaf_names(self, dynamic, static_positions) -> list[str]:
        """A readable name per dynamic leaf: the parameter name, suffixed inside pytrees."""
        dyn_args, dyn_kwargs = dynamic
        positions = [n for n in range(len(dyn_args) + len(static_positions)) if n not in static_positions]
        named = [(self.names[n] if n < len(self.names) else f"arg{n}", a)
                 for n, a in zip(positions, dyn_args)] + list(dyn_kwargs.items())
        out = []
        for name, value in named:
            leaves, _ = flatten(value)
            out.extend([name] if len(leaves) == 1 else [f"{name}_{k}" for k in range(len(leaves))])
        return out
