"""How an ``mlc.numpy`` function runs: traced inside ``@mlc.jit``, compiled when eager.

Each function is written once, in terms of Tracers. Inside a trace it
records ops. Called outside a trace on concrete arrays, it is jitted itself
(its array parameters are dynamic, every other parameter is static), so
``mlc.numpy.exp(a)`` compiles the ``exp`` op once per shape and dtype and
then runs the compiled kernel — NumPy is never asked to compute the result.
Computation follows the data: a call whose arrays include a device's array (a
CuPy array) runs the function jitted for that device's target (``"cuda"``)
instead (:mod:`.devices`).
"""
from __future__ import annotations

import functools
import inspect

from ..errors import IRError, TraceError
from ..ir.expr import PrimExpr
from ..tracer.jit import jit
from ..tracer.source import describe_location, user_location
from ..tracer.trace import is_tracing
from ..runtime.memory import memory_target
from .devices import on_device

__all__ = ["numpy_function", "implementation", "emit", "hashable"]


def numpy_function(*array_params: str):
    """Decorate an implementation whose parameters ``array_params`` take arrays.

    Those parameters (and ``*args`` parameters) may hold pytrees of arrays and
    scalars; the rest are static attributes (axis, keepdims, dtype, ...).
    """
    def decorate(impl):
        params = inspect.signature(impl).parameters
        static = tuple(name for name, p in params.items()
                       if name not in array_params and p.kind is not inspect.Parameter.VAR_POSITIONAL)
        jitted_for: dict = {}  # target (None: the configured one) -> the implementation jitted for it

        def jitted(target=None):
            """The jitted implementation eager calls go through (made on first use); eager calls
            on a device's arrays take the one for its target (``"cuda"``)."""
            if target not in jitted_for:
                jitted_for[target] = jit(impl, static_argnames=static, target=target)
            return jitted_for[target]

        @functools.wraps(impl)
        def wrapper(*args, **kwargs):
            if is_tracing():
                try:
                    return impl(*args, **kwargs)
                except IRError as err:  # a size of a dynamic axis asked for as an int
                    shapes = _symbolic_shapes((*args, *kwargs.values()))
                    if not shapes:
                        raise
                    raise TraceError(f"np.{impl.__name__} does not support these dynamic axes (operand shapes "
                                     f"{', '.join(shapes)}): {err}. Mark fewer axes dynamic "
                                     f"(mlc.jit(dynamic=...)){describe_location(user_location())}") from None
            kind = on_device(args, kwargs)
            target = None if kind is None else memory_target(kind)
            return (jitted_for.get(target) or jitted(target))(*args, **kwargs)

        wrapper.__mlc_impl__ = impl
        wrapper.jitted = jitted
        return wrapper
    return decorate


def _symbolic_shapes(values) -> list[str]:
    """The shapes with a symbolic size among ``values`` (arrays, or lists and tuples of them)."""
    shapes = []
    for v in values:
        if isinstance(v, (list, tuple)):
            shapes += _symbolic_shapes(v)
        elif isinstance(getattr(v, "shape", None), tuple) and any(isinstance(d, PrimExpr) for d in v.shape):
            shapes.append(str(tuple(v.shape)))
    return shapes


def implementation(fn):
    """The tracing implementation behind an ``mlc.numpy`` function."""
    return getattr(fn, "__mlc_impl__", fn)


def emit(op: str, tracers, **attrs):
    """Record ``op(*tracers, **attrs)`` in the tracers' trace; attributes made hashable."""
    return tracers[0]._ctx.emit(op, list(tracers), {k: hashable(v) for k, v in attrs.items()})


def hashable(value):
    """Lists (and NumPy ints) in an attribute as tuples (and Python ints); a symbolic size
    (``x.shape[0]`` of a dynamic axis) stays as it is."""
    if isinstance(value, (list, tuple)):
        return tuple(hashable(v) for v in value)
    if hasattr(value, "__index__") and not isinstance(value, (bool, int, PrimExpr)):
        return int(value.__index__())
    return value
