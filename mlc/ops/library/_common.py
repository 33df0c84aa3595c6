"""Shape and dtype rules shared by the op library (and importable by the tracer).

Everything here follows NumPy 2: broadcasting (right-aligned, size 1 stretches),
type promotion between typed operands (``np.result_type`` on dtypes), NEP 50
for Python scalars (they adapt to the typed operand), and the ufunc loop
selection NumPy itself uses (``exp`` of int32 is float64, of int8 float16).

>>> broadcast_shapes((4, 1), (3,))
(4, 3)
>>> result_type("int8", "uint8"), result_type("int32", "float32")
('int16', 'float64')
>>> ufunc_dtypes("exp", np.exp, "int16")
(('float32',), 'float32')
"""
from __future__ import annotations

import operator
from collections.abc import Sequence

import math

import numpy as np

from ...errors import AxisError, DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir import te
from ...ir.expr import PrimExpr
from ...ir.tir import Block, BlockRealize, PrimFunc
from ..hand_written import HAND_WRITTEN, HAND_WRITTEN_GPU

__all__ = [
    "hand_written_func",
    "np_erf", "np_sigmoid",
    "broadcast_shapes", "result_type", "weak_result_type", "ufunc_dtypes", "float_dtype",
    "normalize_axis", "normalize_axes", "broadcast_indices", "check_int_attr", "check_ndim",
    "shape_size", "bind_scalar", "constant_value", "canonical_dtype", "reduce_compute", "index", "accumulate_dtype",
    "lowest", "highest", "zero", "one", "prod_reducer", "any_reducer", "all_reducer", "multiply",
    "cast_stage", "contract",
]


def canonical_dtype(op: str, dtype) -> str:
    """The NumPy name of ``dtype``, or a DTypeError naming ``op``."""
    try:
        return dt.canonical(dtype)
    except DTypeError as err:
        raise DTypeError(f"{op}: {err}") from None


def broadcast_shapes(*shapes: Sequence[int], op: str = "broadcast") -> tuple[int, ...]:
    """The NumPy broadcast of ``shapes``; ShapeError names the clashing dimension.

    >>> broadcast_shapes((2, 1, 5), (7, 1), ())
    (2, 7, 5)
    """
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for shape in shapes:
        for n, extent in enumerate(shape):
            d = ndim - len(shape) + n
            if extent == out[d] or extent == 1:
                continue
            if out[d] == 1:
                out[d] = extent
                continue
            listed = ", ".join(str(tuple(s)) for s in shapes)
            raise ShapeError(
                f"{op}: shapes {listed} cannot be broadcast together: dimension {d - ndim} "
                f"(counted from the right) is {out[d]} in one operand and {extent} in another; "
                "NumPy broadcasting needs equal sizes or 1 (reshape or expand_dims the operand)")
    return tuple(out)


def result_type(*dtypes: str, op: str = "result_type") -> str:
    """NumPy 2's promotion of typed operands: ``np.result_type`` on dtypes.

    >>> result_type("bool", "int8"), result_type("uint64", "int64"), result_type("float16", "int16")
    ('int8', 'float64', 'float32')
    """
    if not dtypes:
        raise DTypeError(f"{op}: needs at least one dtype")
    names = [canonical_dtype(op, d) for d in dtypes]
    return canonical_dtype(op, np.result_type(*(np.dtype(n) for n in names)))


def weak_result_type(dtype: str, *scalars) -> str:
    """The dtype of ``dtype`` combined with Python scalars (NEP 50; ``None`` is skipped).

    Python ints keep an integer or float dtype; next to bool they are int64.
    Python floats keep a float dtype and are float64 next to integers or bool.

    >>> weak_result_type("int8", 300), weak_result_type("bool", 1), weak_result_type("int16", 0.5)
    ('int8', 'int64', 'float64')
    """
    out = dtype
    for value in scalars:
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, int):
            if out == "bool":
                out = "int64"
        elif isinstance(value, float):
            if not dt.is_float(out):
                out = "float64"
        else:
            raise DTypeError(f"expected a Python int, float or bool, got {value!r}")
    return out


def ufunc_dtypes(op: str, ufunc: np.ufunc, *dtypes: str) -> tuple[tuple[str, ...], str]:
    """The input dtypes NumPy's ``ufunc`` computes in and its (first) output dtype.

    This is NumPy's own loop selection, so ``exp`` of int8 is float16 and
    ``left_shift`` of floats is an error (raised as DTypeError naming ``op``).
    """
    names = tuple(canonical_dtype(op, d) for d in dtypes)
    try:
        resolved = ufunc.resolve_dtypes(tuple(np.dtype(n) for n in names) + (None,) * ufunc.nout)
    except TypeError:  # includes numpy.exceptions UFuncTypeError (no loop)
        kinds = ", ".join(names)
        raise DTypeError(f"{op}: not defined for inputs of dtype {kinds}; NumPy's {ufunc.__name__} "
                         "has no loop for them — cast the inputs (astype) to a supported dtype") from None
    out = [r.name for r in resolved]
    for name in out:
        canonical_dtype(op, name)
    return tuple(out[:len(names)]), out[len(names)]


def float_dtype(op: str, dtype: str) -> str:
    """The float dtype NumPy computes float math in for ``dtype`` (like ``np.exp``)."""
    return ufunc_dtypes(op, np.exp, dtype)[1]


def normalize_axis(op: str, axis, ndim: int, what: str = "axis") -> int:
    """``axis`` as a non-negative int below ``ndim``; negative counts from the end."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ShapeError(f"{op}: {what} must be an int, got {axis!r}")
    axis = int(axis)
    if not ndim:
        raise AxisError(f"{op}: {what} {axis} is out of bounds for a 0-d array, which has no axes; "
                        f"use {what}=None")
    if not -ndim <= axis < ndim:
        raise AxisError(f"{op}: {what} {axis} is out of bounds for an array of dimension {ndim}; "
                        f"use an axis in [{-ndim}, {ndim})")
    return axis % ndim


def normalize_axes(op: str, axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None = all, an int, or a tuple of ints) as sorted distinct axes."""
    if axis is None:
        return tuple(range(ndim))
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = [normalize_axis(op, a, ndim) for a in items]
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis!r}; list each axis once")
    return tuple(sorted(out))


def broadcast_indices(shape: Sequence[int], out_indices: Sequence) -> tuple:
    """Indices into an operand of ``shape`` for an output point under broadcasting.

    The operand's dimensions align with the trailing output indices; a
    dimension of size 1 reads index 0.
    """
    offset = len(out_indices) - len(shape)
    if offset < 0:
        raise ShapeError(f"operand of rank {len(shape)} cannot broadcast to rank {len(out_indices)}")
    return tuple(_e.const(0, dt.INDEX) if extent == 1 else out_indices[offset + n]
                 for n, extent in enumerate(shape))


def check_int_attr(op: str, name: str, value, minimum: int | None = None) -> int:
    """An int attribute (not bool), optionally at least ``minimum``."""
    try:
        if isinstance(value, bool):
            raise TypeError
        ivalue = operator.index(value)
    except TypeError:
        raise ShapeError(f"{op}: attribute {name} must be an int, got {value!r}") from None
    if minimum is not None and ivalue < minimum:
        raise ShapeError(f"{op}: attribute {name} must be at least {minimum}, got {ivalue}")
    return ivalue


def check_ndim(op: str, arg: str, shape: Sequence[int], allowed) -> None:
    """Raise ShapeError unless ``len(shape)`` is in ``allowed`` (an int or a collection)."""
    allowed = (allowed,) if isinstance(allowed, int) else tuple(allowed)
    if len(shape) not in allowed:
        want = " or ".join(str(a) for a in allowed)
        raise ShapeError(f"{op}: {arg} must have {want} dimension(s), got shape {tuple(shape)} "
                         f"with {len(shape)}")


def shape_size(shape: Sequence[int]) -> int:
    """The number of elements of ``shape``."""
    n = 1
    for d in shape:
        n *= d
    return n


def constant_value(t: te.Tensor):
    """The Python number a 0-d tensor holds when it is a constant of the graph (a fused
    function's 0-d constant is a stage computing one literal: ``np.power(z, 2.0)``'s 2.0),
    else None; a lowering may then pick the case that number selects.

    >>> from mlc import te
    >>> two = te.compute((), lambda: _e.const(2.5, "float64"), name="c")
    >>> constant_value(two), constant_value(te.placeholder((), "float64", "x"))
    (2.5, None)
    """
    op = t.op
    if t.ndim != 0 or not isinstance(op, te.ComputeOp) or len(op.body) != 1:
        return None
    body = op.body[0]
    if isinstance(body, (_e.IntImm, _e.FloatImm)):
        return body.value
    if isinstance(body, _e.Call) and body.op == "complex" and \
            all(isinstance(a, _e.FloatImm) for a in body.args):
        return complex(body.args[0].value, body.args[1].value)
    return None


def bind_scalar(value, dtype: str) -> PrimExpr:
    """A Python scalar attribute as a constant of ``dtype`` (clamped into an int dtype's range)."""
    if dt.is_int(dtype) and not isinstance(value, float):
        info = np.iinfo(dtype)
        value = min(max(int(value), int(info.min)), int(info.max))
    return _e.const(value, dtype)


def reduce_compute(shape: Sequence[int], extents: Sequence[int], body, reducer, identity,
                   name: str, dtype: str):
    """A te stage ``out[idx] = reducer(body(idx, ks) for ks in product(ranges(extents)))``.

    ``reducer`` is ``te.sum`` / ``te.max`` / ``te.min`` or a ``te.comm_reducer``;
    ``identity(dtype)`` is its identity, used when a reduced extent is 0 (the
    loop would never run). ``dtype`` is the dtype ``body`` produces. With no
    extents the body is computed directly.
    """
    if any(e == 0 for e in extents):
        return te.compute(tuple(shape), lambda *idx: identity(dtype), name=name)
    if not extents:
        return te.compute(tuple(shape), lambda *idx: body(idx, ()), name=name)
    axes = [te.reduce_axis((0, e), f"k{n}") for n, e in enumerate(extents)]
    return te.compute(tuple(shape), lambda *idx: reducer(body(idx, tuple(a.var for a in axes)), axis=axes),
                      name=name)



# ------------------------------------------------------------ te building blocks

def index(value: int) -> PrimExpr:
    """An index constant (the dtype of loop and block iterators)."""
    return _e.const(value, dt.INDEX)


def accumulate_dtype(dtype: str) -> str:
    """The dtype sums and products accumulate in: float32 for float16 data, else ``dtype``."""
    return "float32" if dtype == "float16" else dtype


#: the identities of ``max`` and ``min`` (-inf / +inf, the integer extremes, False / True)
lowest, highest = te.lowest, te.highest


def zero(dtype: str) -> PrimExpr:
    """The identity of ``sum``."""
    return _e.const(0, dtype)


def one(dtype: str) -> PrimExpr:
    """The identity of ``prod``."""
    return _e.const(1, dtype)


prod_reducer = te.comm_reducer(lambda x, y: x * y, one, name="prod")
any_reducer = te.comm_reducer(_e.logical_or, lambda t: _e.const(False, t), name="any")
all_reducer = te.comm_reducer(_e.logical_and, lambda t: _e.const(True, t), name="all")


def multiply(a: PrimExpr, b: PrimExpr) -> PrimExpr:
    """``a * b``, or logical and for bools (NumPy's bool product)."""
    return _e.logical_and(a, b) if a.dtype == "bool" else a * b


def cast_stage(t, dtype: str, name: str):
    """``t`` converted to ``dtype`` as an elementwise stage (``t`` itself when it already is)."""
    if t.dtype == dtype:
        return t
    return te.compute(t.shape, lambda *i: _e.cast(t[i], dtype), name=name)


def contract(shape: Sequence[int], extents: Sequence[int], factors, out: str, name: str):
    """``out[idx] = sum over ks of prod(factors(idx, ks))``: matmul, einsum, conv, dense.

    The sum accumulates in :func:`accumulate_dtype` (logical or of ands for
    bool) and is cast to ``out`` by a second stage when that differs.
    """
    acc = accumulate_dtype(out)

    def term(idx, ks):
        value = None
        for f in factors(idx, ks):
            f = _e.cast(f, acc)
            value = f if value is None else multiply(value, f)
        return value

    reducer = any_reducer if acc == "bool" else te.sum
    return cast_stage(reduce_compute(shape, extents, term, reducer, zero, name, acc), out, f"{name}_cast")


_ERF = np.frompyfunc(math.erf, 1, 1)


def np_erf(x: np.ndarray) -> np.ndarray:
    """``erf`` on arrays, exact to float64 (NumPy has none; ``math.erf`` elementwise)."""
    return np.asarray(_ERF(np.asarray(x, dtype="float64")), dtype="float64")


def np_sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow warnings, in ``x``'s float dtype."""
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x))).astype(x.dtype)


def hand_written_func(params, body, allocs=(), gpu: bool = False) -> PrimFunc:
    """A PrimFunc an op writes by hand (its ``prim_func``): ``body`` (loops and stores) in a root
    block allocating ``allocs``, marked hand-written (``"mlc.scheduled": "hand-written"``: the
    default schedules leave it as it is; see :mod:`mlc.ops.hand_written`, which also says how
    its batch loops are marked). ``gpu``: a kernel written for the GPU (a ``gpu_prim_func``, its
    loops bound to threads), marked ``"hand-written-gpu"``, ready for a CUDA build as it is."""
    root = Block("root", (), (), (), body, alloc_buffers=tuple(allocs))
    mark = HAND_WRITTEN_GPU if gpu else HAND_WRITTEN
    return PrimFunc(tuple(params), BlockRealize((), _e.const(True, "bool"), root),
                    (("global_symbol", "main"), ("mlc.scheduled", mark), ("tir.noalias", True)))
