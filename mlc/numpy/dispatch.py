"""NumPy's protocols: which ``mlc.numpy`` function a NumPy call on a Tracer becomes.

``np.exp(t)`` reaches :func:`ufunc_call` through ``Tracer.__array_ufunc__``;
``np.sum(t, axis=1)`` and ``np.concatenate([t, u])`` reach
:func:`function_call` through ``__array_function__``. Both look the NumPy
name up in this package's tables (``UFUNCS``, ``FUNCTIONS``), which
:func:`mlc.numpy.methods.attach` hands them; what is missing raises
TraceError naming it.
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceError
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer
from .loops import loop_dtypes, refuse_out
from .updates import assign

__all__ = ["ufunc_call", "function_call", "REDUCE_METHODS"]

#: ``ufunc.reduce`` as a reduction: ``np.add.reduce(x, axis)`` is ``sum``.
REDUCE_METHODS = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min"}

#: NumPy function names that are spelled differently here.
_RENAMED = {"amax": "max", "amin": "min"}


def _unsupported(what: str) -> TraceError:
    return TraceError(f"{what} is not supported inside @mlc.jit; see mlc.numpy for the functions "
                      f"that trace{describe_location(user_location())}")


def _shape_text(array: np.ndarray) -> str:
    return f"{array.dtype}{list(array.shape)}"


def ufunc_call(ufunc, method: str, inputs, kwargs, ufuncs: dict, functions: dict):
    """Run NumPy ufunc ``ufunc`` (its ``method``) on operands that include a Tracer, as the
    function of its name in ``ufuncs`` (or ``functions``: ``matmul`` is a ufunc)."""
    out = kwargs.pop("out", None)
    if (method == "__call__" and isinstance(out, tuple) and len(out) == 1 and inputs
            and isinstance(out[0], np.ndarray) and out[0] is inputs[0]):  # ``a += t``, ``a`` a NumPy array
        raise TraceError(f"np.{ufunc.__name__} into the NumPy array {_shape_text(out[0])} in place (a += ... or "
                         f"out=a) cannot hold a traced value: a NumPy array inside a traced function (a global, "
                         f"a closure variable, or one made with NumPy) is a constant of the compiled code. Pass "
                         f"the array as an argument of the jitted function (it is then written back when the "
                         f"call returns), or write a = a + ... (a traced array from then on)"
                         f"{describe_location(user_location())}")
    if method == "__call__" and isinstance(out, tuple) and len(out) == 1 and isinstance(out[0], Tracer):
        result = ufunc_call(ufunc, method, inputs, kwargs, ufuncs, functions)  # then stored in out
        return assign(out[0], result, f"np.{ufunc.__name__}(..., out=x)")
    refuse_out(ufunc.__name__, out)
    if method == "__call__":
        name = ufunc.__name__
        if name in ufuncs:  # they take dtype= and casting= as NumPy's ufuncs do
            unknown = sorted(set(kwargs) - {"dtype", "casting"})
            if unknown:
                raise _unsupported(f"np.{name} with keyword(s) {unknown}")
            return ufuncs[name](*inputs, **kwargs)
        fn = functions.get(name)
        if fn is None:
            raise _unsupported(f"the ufunc np.{name}")
        dtype, casting = kwargs.pop("dtype", None), kwargs.pop("casting", "same_kind")
        if kwargs:
            raise _unsupported(f"np.{name} with keyword(s) {sorted(kwargs)}")
        if dtype is None:
            return fn(*inputs)
        ins, result = loop_dtypes(name, inputs, dtype, casting)  # matmul: computed in its loop's dtype
        out = fn(*(functions["astype"](x, d) for x, d in zip(inputs, ins)))
        return functions["astype"](out, result)
    if method == "reduce" and ufunc.__name__ in REDUCE_METHODS:
        fn = functions[REDUCE_METHODS[ufunc.__name__]]
        return fn(*inputs, **kwargs)
    raise _unsupported(f"np.{ufunc.__name__}.{method}")


def function_call(func, args, kwargs, functions: dict):
    """Run NumPy function ``func`` (``np.sum``, ``np.where``, ...) on arguments with Tracers,
    as the function of its name in ``functions``."""
    name = _RENAMED.get(func.__name__, func.__name__)
    fn = functions.get(name)
    if fn is None:
        raise _unsupported(f"np.{func.__name__}")
    return fn(*args, **kwargs)
