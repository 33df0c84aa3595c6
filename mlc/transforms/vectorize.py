"""``np.vectorize(f)(x)`` on traced arrays: ``f`` mapped over the elements by :func:`.vmap`.

NumPy's ``vectorize`` calls a Python function once per element; inside ``@mlc.jit`` its
elements are not known, so the call (routed here by :mod:`mlc.tracer.autograph_runtime`'s
``call``) broadcasts the arguments, flattens them and maps ``f`` — its ``if`` on the
element converted into a conditional — over them as one batched program, then gives the
result the broadcast shape::

    def f(t):
        return t * t if t > 0 else -t

    @mlc.jit
    def g(x):
        return np.vectorize(f)(x)      # g(np.array([1.0, -2.0])) is array([1., 2.])
"""
from __future__ import annotations

import numpy as np

from .. import numpy as mnp
from ..errors import TraceError
from ..tracer import autograph_runtime
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer
from .vmap import vmap

__all__ = ["vectorized_call"]


def vectorized_call(vectorized: np.vectorize, args: tuple, kwargs: dict):
    """``vectorized(*args, **kwargs)`` with a traced argument (NumPy's ``vectorize`` without
    ``signature`` or ``excluded``)."""
    if vectorized.signature is not None or vectorized.excluded or kwargs:
        raise TraceError("np.vectorize with signature=, excluded= or keyword arguments does not trace on "
                         "traced arrays; write the function on whole arrays (np.where for its if)"
                         + describe_location(user_location()))
    arrays = mnp.broadcast_arrays(*[a if isinstance(a, Tracer) else mnp.asarray(a) for a in args])
    shape = tuple(arrays[0].shape)
    fn = autograph_runtime._CONVERT[0](vectorized.pyfunc)
    if not shape:
        out = fn(*arrays)
    else:
        out = vmap(fn)(*[a.reshape(-1) for a in arrays])
        out = tuple(o.reshape(shape) for o in out) if isinstance(out, tuple) else mnp.asarray(out).reshape(shape)
    if vectorized.otypes:
        types = list(vectorized.otypes)
        out = tuple(mnp.asarray(o).astype(t) for o, t in zip(out, types)) if isinstance(out, tuple) \
            else mnp.asarray(out).astype(types[0])
    return out


autograph_runtime._VECTORIZE[0] = vectorized_call


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """NumPy's ``np.apply_along_axis`` on a traced array: ``func1d`` (its control flow converted)
    mapped by :func:`.vmap` over the 1-D slices along ``axis``; its result's axes take that
    axis's place, as NumPy puts them."""
    t = mnp.asarray(arr)
    axis = axis + t.ndim if axis < 0 else axis
    if not 0 <= axis < t.ndim:
        raise TraceError(f"np.apply_along_axis: axis {axis} is out of bounds for an array of dimension "
                         f"{t.ndim}" + describe_location(user_location()))
    fn = autograph_runtime._CONVERT[0](func1d)
    rows = mnp.moveaxis(t, axis, -1)
    outer = tuple(rows.shape[:-1])
    flat = rows.reshape((-1, rows.shape[-1]))
    out = mnp.asarray(vmap(lambda row: mnp.asarray(fn(row, *args, **kwargs)))(flat))
    inner = tuple(out.shape[1:])
    out = out.reshape(outer + inner)
    return mnp.moveaxis(out, tuple(range(len(outer), len(outer) + len(inner))),
                        tuple(range(axis, axis + len(inner)))) if inner else out


autograph_runtime._APPLY_ALONG_AXIS[0] = apply_along_axis
