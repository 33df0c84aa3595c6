"""NumPy's protocols: which ``mlc.numpy`` function a NumPy call on a Tracer becomes.

``np.exp(t)`` reaches :func:`ufunc_call` through ``Tracer.__array_ufunc__``;
``np.sum(t, axis=1)``, ``np.concatenate([t, u])`` and ``np.linalg.trace(t)``
reach :func:`function_call` through ``__array_function__``. A ufunc is looked
up by its name in ``UFUNCS`` (each ufunc has one); a function by the function
object itself (:func:`numpy_table`), never by its bare name:
``np.linalg.trace`` and ``np.trace`` are both named ``trace`` but sum over
different axes. What is missing raises TraceError naming it, with what to
write instead where the function is refused by design.
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceError
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer
from .loops import loop_dtypes, refuse_out
from .refusals import REFUSED as _REFUSED_BY_NAME
from .updates import assign
from .ufunc_methods import ufunc_method

__all__ = ["ufunc_call", "function_call", "numpy_table"]

def numpy_table(functions: dict, *extra: dict) -> dict:
    """NumPy's function objects -> the implementations here: ``np.<name>`` for each ``name`` in
    ``functions`` that NumPy has (a NumPy alias, such as ``np.permute_dims`` for ``np.transpose``,
    keeps the function of its own name), then the tables in ``extra``, keyed by the objects
    themselves (``np.linalg.trace``), which win.

    >>> import numpy as np, mlc.numpy as mnp
    >>> table = numpy_table(mnp.FUNCTIONS)
    >>> table[np.transpose] is mnp.transpose, table[np.trace] is mnp.trace
    (True, True)
    """
    table: dict = {}
    for name, fn in functions.items():
        obj = getattr(np, name, None)
        if obj is None or isinstance(obj, np.ufunc) or not callable(obj):
            continue
        if getattr(obj, "__name__", None) == name:
            table[obj] = fn
        else:
            table.setdefault(obj, fn)
    for more in extra:
        table.update(more)
    return table


def _qualified(func) -> str:
    """``np.linalg.trace`` for NumPy's ``linalg.trace``, ``np.sum`` for ``sum``."""
    module = getattr(func, "__module__", "") or ""
    sub = module.split(".")[1] if module.startswith("numpy.") else ""
    sub = {"_core": "", "lib": "", "linalg": "linalg", "fft": "fft"}.get(sub, sub)
    sub = "emath" if module == "numpy.lib.scimath" else sub  # (np.emath.sqrt is not np.sqrt)
    return f"np.{sub + '.' if sub else ''}{getattr(func, '__name__', func)}"


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
        if fn is None and name in _REFUSED_BY_NAME:
            raise TraceError(f"np.{name} cannot be traced inside @mlc.jit: {_REFUSED_BY_NAME[name]}"
                             f"{describe_location(user_location())}")
        if fn is None:
            raise _unsupported(f"the ufunc np.{name}")
        dtype, casting = kwargs.pop("dtype", None), kwargs.pop("casting", "same_kind")
        if kwargs:
            raise _unsupported(f"np.{name} with keyword(s) {sorted(kwargs)}")
        if dtype is None:
            return fn(*inputs)
        ins, result = loop_dtypes(name, inputs, dtype, casting)  # matmul: computed in its loop's dtype
        out = fn(*(functions["astype"](x, d) for x, d in zip(inputs, ins)))
        if ufunc.nout > 1:  # divmod, modf, frexp: inputs in the loop's dtypes give its outputs' dtypes
            return out
        return functions["astype"](out, result)
    call = ufuncs.get(ufunc.__name__) or functions.get(ufunc.__name__)
    if call is None:
        raise _unsupported(f"the ufunc np.{ufunc.__name__}")
    return ufunc_method(ufunc, method, inputs, kwargs, call)  # outer, reduce, accumulate, reduceat, at


def function_call(func, args, kwargs, table: dict, refused: dict):
    """Run NumPy function ``func`` (``np.sum``, ``np.linalg.trace``, ...) on arguments with
    Tracers, as ``table[func]`` (:func:`numpy_table`); ``refused[func]`` says why one cannot
    trace and what to write instead."""
    fn = table.get(func)
    if fn is not None:
        out = kwargs.get("out")
        target = out[0] if isinstance(out, tuple) and len(out) == 1 else out
        if isinstance(target, Tracer):  # np.cumsum(x, out=y[1:]): computed, then stored in out
            result = fn(*args, **{k: v for k, v in kwargs.items() if k != "out"})
            return assign(target, result, f"{_qualified(func)}(..., out=x)")
        return fn(*args, **kwargs)
    if func in refused:
        raise TraceError(f"{_qualified(func)} cannot be traced inside @mlc.jit: {refused[func]}"
                         f"{describe_location(user_location())}")
    raise _unsupported(_qualified(func))
