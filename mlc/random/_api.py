"""How an ``mlc.random`` function runs, and what its arguments must be.

Each function is written once, on traced values, and made an ``mlc.numpy``
function (:func:`mlc.numpy._api.numpy_function`): inside ``@mlc.jit`` it
records ops; called eagerly it is jitted itself, per shape, dtype and static
arguments, so a call after the first is one compiled kernel (a cache hit of a
few microseconds). Keys are checked at the door: a key is a uint32 array of
shape (2,), and a seed where a key belongs is a clear error, not a trace of
an int64 scalar.

The draws every sampler starts from are ops (:mod:`mlc.ops.library.random`):
:func:`draw_bits`, and :func:`unit` ([0, 1)), :func:`open_unit` ((0, 1)) and
:func:`signed_unit` ((-1, 1)), which put the top bits of each element's
Threefry block into the significand, exactly (no rounding, no value repeated
more often than another).
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from ..errors import DTypeError, ShapeError
from ..ir import dtype as dt
from ..numpy._api import emit, numpy_function
from ..ops.library._common import check_int_attr
from ..ops.library.random import DRAW_STREAM
from ..tracer.jit import jit
from ..tracer.operands import as_tracer
from ..tracer.trace import is_tracing
from ..tracer.tracer import Tracer

__all__ = ["random_function", "as_key", "check_key", "normalize_shape", "float_dtype", "int_dtype", "draw_bits",
           "unit", "open_unit", "signed_unit", "compute_dtype", "float_sampler_args", "parameters_shape"]

def random_function(*array_params: str, lengths: tuple[str, ...] = ()):
    """Make ``impl(key, ...)`` an ``mlc.random`` function: ``array_params`` (the key first)
    take arrays, the other parameters are static (a list given as ``shape`` becomes a tuple);
    a parameter of ``lengths`` takes an array or an int, which is static (a length:
    ``permutation(key, 10)``).

    An eager call of host arrays and Python numbers goes to a function jitted for its static
    arguments alone, whose arrays are all positional: the jit's fastest hit path (the keyword
    path of :func:`~mlc.numpy._api.numpy_function` hashes every static argument on every
    call). Other calls (GPU arrays) go through ``numpy_function``."""
    def decorate(impl):
        general = numpy_function(*array_params)(impl)
        params = list(inspect.signature(impl).parameters)
        static = frozenset(n for n in params if n not in array_params)
        by_statics: dict = {}  # (static arguments, array parameters given) -> a jitted function

        @functools.wraps(impl)
        def wrapper(*args, **kwargs):
            key = args[0] if args else kwargs.get("key")
            if not (type(key) is np.ndarray and key.dtype == _UINT32 and key.shape == (2,)):
                check_key(key, f"mlc.random.{impl.__name__}")
            if is_tracing():
                return impl(*args, **kwargs)
            given = dict(zip(params, args))
            given.update(kwargs)
            statics = tuple((n, tuple(v) if type(v) is list else v) for n, v in given.items()
                            if n in static or n in lengths and type(v) is int)
            names = tuple(n for n in given if not (n in static or n in lengths and type(given[n]) is int))
            arrays = [given[n] for n in names]
            if not all(type(a) in _HOST_VALUES for a in arrays):
                return general(*args, **kwargs)
            try:
                run = by_statics.get((statics, names))
            except TypeError:  # an unhashable static argument: the general path says what is wrong
                return general(*args, **kwargs)
            if run is None:
                run = by_statics[(statics, names)] = _jit_for(impl, dict(statics), names)
            return run(*arrays)

        wrapper.__mlc_impl__ = impl
        return wrapper
    return decorate


#: What an eager call's arrays may be to take the fast path: host arrays and Python numbers.
_HOST_VALUES = frozenset({np.ndarray, int, float, bool})


def _jit_for(impl, statics: dict, names: tuple[str, ...]):
    """``impl`` jitted with ``statics`` bound, its arrays ``names`` passed by position."""
    def bound(*arrays):
        return impl(**dict(zip(names, arrays)), **statics)
    bound.__name__ = bound.__qualname__ = impl.__name__
    return jit(bound)


_UINT32 = np.dtype("uint32")


def check_key(key, where: str) -> None:
    """DTypeError or ShapeError unless ``key`` is a key: a uint32 array of shape (2,)."""
    if isinstance(key, Tracer):
        dtype, shape = key.dtype, tuple(key.shape)
    elif isinstance(key, (np.ndarray, np.generic)):
        dtype, shape = key.dtype, key.shape
    else:
        raise DTypeError(f"{where}: the key must be a key (a uint32 array of shape (2,)), got "
                         f"{type(key).__name__} {key!r}; make one with mlc.random.key(seed)"
                         + (f", e.g. mlc.random.key({key})" if isinstance(key, int) else ""))
    if dtype != _UINT32 or shape != (2,):
        raise (DTypeError if dtype != _UINT32 else ShapeError)(
            f"{where}: the key must be a uint32 array of shape (2,), got {dtype}{list(shape)}; make "
            "one with mlc.random.key(seed), and several with mlc.random.split(key, n) (each row is one)")


def as_key(key, where: str) -> Tracer:
    """``key`` (checked) as a traced value."""
    check_key(key, where)
    return as_tracer(key)


def normalize_shape(shape, where: str) -> tuple[int, ...]:
    """A shape argument (an int or a sequence of ints) as a tuple."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise ShapeError(f"{where}: shape must be a tuple of ints, got {shape!r}")
    return tuple(check_int_attr(where, "shape", d, minimum=0) for d in shape)


def float_dtype(dtype, where: str) -> str:
    """A float dtype argument, checked."""
    name = dt.canonical(dtype)
    if not dt.is_float(name):
        raise DTypeError(f"{where}: dtype must be a float dtype (float16, float32, float64), got {name}")
    return name


def int_dtype(dtype, where: str) -> str:
    """An integer dtype argument, checked."""
    name = dt.canonical(dtype)
    if not dt.is_int(name):
        raise DTypeError(f"{where}: dtype must be an integer dtype, got {name}")
    return name


def compute_dtype(dtype: str) -> str:
    """The dtype a sampler computes in: float16 samples are float32 ones, rounded once."""
    return "float32" if dtype == "float16" else dtype


def float_sampler_args(key, dtype, where: str) -> tuple[Tracer, str, str]:
    """A float sampler's ``key`` and ``dtype`` checked, and the dtype it computes in."""
    key, dtype = as_key(key, where), float_dtype(dtype, where)
    return key, dtype, compute_dtype(dtype)


def parameters_shape(shape, where: str, *parameters) -> tuple[int, ...]:
    """A ``shape`` argument as a tuple; None: the broadcast shape of the ``parameters``."""
    if shape is None:
        shape = np.broadcast_shapes(*(tuple(p.shape) for p in parameters))
    return normalize_shape(shape, where)


def draw_bits(key: Tracer, shape, dtype: str = "uint32", stream: int = DRAW_STREAM) -> Tracer:
    """``random.bits``: each element's Threefry block (its first word, or both for uint64)."""
    return emit("random.bits", [key], shape=tuple(shape), dtype=dtype, stream=stream)


def _unit(key: Tracer, shape, dtype: str, stream: int, interval: str) -> Tracer:
    return emit("random.unit", [key], shape=tuple(shape), dtype=dtype, stream=stream, interval=interval)


def unit(key: Tracer, shape, dtype: str, stream: int = DRAW_STREAM) -> Tracer:
    """Uniform floats in [0, 1) of compute dtype ``dtype`` (float32 or float64)."""
    return _unit(key, shape, dtype, stream, "[0, 1)")


def open_unit(key: Tracer, shape, dtype: str, stream: int = DRAW_STREAM) -> Tracer:
    """Uniform floats in (0, 1)."""
    return _unit(key, shape, dtype, stream, "(0, 1)")


def signed_unit(key: Tracer, shape, dtype: str, stream: int = DRAW_STREAM) -> Tracer:
    """Uniform floats in (-1, 1), symmetric."""
    return _unit(key, shape, dtype, stream, "(-1, 1)")
