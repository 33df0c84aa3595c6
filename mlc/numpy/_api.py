"""How an ``mlc.numpy`` function runs: traced inside ``@mlc.jit``, compiled when eager.

Each function is written once, in terms of Tracers. Inside a trace it
records ops. Called outside a trace on concrete arrays, it is jitted itself
(its array parameters are dynamic, every other parameter is static), so
``mlc.numpy.exp(a)`` compiles the ``exp`` op once per shape and dtype and
then runs the compiled kernel — NumPy is never asked to compute the result.
Computation follows the data: a call whose arrays include a GPU (CuPy) array
runs the function jitted for ``target="cuda"`` instead (:mod:`.devices`).
"""
from __future__ import annotations

import functools
import inspect

from ..tracer.jit import jit
from ..tracer.trace import is_tracing
from .devices import on_gpu

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
        eager = on_device = None

        def jitted():
            """The jitted implementation eager calls go through (made on first use)."""
            nonlocal eager
            if eager is None:
                eager = jit(impl, static_argnames=static)
            return eager

        def jitted_for_gpu():
            """The implementation jitted for ``target="cuda"``: eager calls on GPU arrays."""
            nonlocal on_device
            if on_device is None:
                on_device = jit(impl, static_argnames=static, target="cuda")
            return on_device

        @functools.wraps(impl)
        def wrapper(*args, **kwargs):
            if is_tracing():
                return impl(*args, **kwargs)
            if on_gpu(args, kwargs):
                return jitted_for_gpu()(*args, **kwargs)
            return (eager or jitted())(*args, **kwargs)

        wrapper.__mlc_impl__ = impl
        wrapper.jitted = jitted
        wrapper.jitted_for_gpu = jitted_for_gpu
        return wrapper
    return decorate


def implementation(fn):
    """The tracing implementation behind an ``mlc.numpy`` function."""
    return getattr(fn, "__mlc_impl__", fn)


def emit(op: str, tracers, **attrs):
    """Record ``op(*tracers, **attrs)`` in the tracers' trace; attributes made hashable."""
    return tracers[0]._ctx.emit(op, list(tracers), {k: hashable(v) for k, v in attrs.items()})


def hashable(value):
    """Lists (and NumPy ints) in an attribute as tuples (and Python ints)."""
    if isinstance(value, (list, tuple)):
        return tuple(hashable(v) for v in value)
    if hasattr(value, "__index__") and not isinstance(value, (bool, int)):
        return int(value.__index__())
    return value
