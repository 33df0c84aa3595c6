"""Contractions: matmul, dot, einsum.

Each lowers to one te.compute whose body is a sum over reduce axes (the
contracted indices), the form schedules tile, reorder and vectorize; an
extra elementwise stage rounds float16 results accumulated in float32.

>>> from mlc import te
>>> from mlc.ops import get_op
>>> a = te.placeholder((2, 1, 4, 3), "float32", "a"); b = te.placeholder((5, 3, 6), "float32", "b")
>>> c = get_op("matmul").lower(a, b)
>>> c.shape, [iv.dom.extent.value for iv in c.op.reduce_axis]
((2, 5, 4, 6), [3])
"""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError, ShapeError
from ...ir import dtype as dt
from ..registry import NumpyAPI, TensorType, register_op
from ._common import broadcast_indices, broadcast_shapes, contract, result_type

__all__ = ["matmul_shape", "parse_einsum"]


def _product_dtype(op: str, *dtypes: str) -> str:
    return result_type(*dtypes, op=op)


# ------------------------------------------------------------------ matmul

def matmul_shape(a_shape, b_shape) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(batch shape, output shape) of ``np.matmul`` for these operand shapes.

    >>> matmul_shape((3,), (2, 3, 4))
    ((2,), (2, 4))
    """
    if not a_shape or not b_shape:
        raise ShapeError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{tuple(a_shape)} and {tuple(b_shape)}; use multiply for scalars")
    a2 = (1,) + tuple(a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b2 = tuple(b_shape) + (1,) if len(b_shape) == 1 else tuple(b_shape)
    if a2[-1] != b2[-2]:
        raise ShapeError(f"matmul: contracted dimensions differ: {tuple(a_shape)} @ {tuple(b_shape)} "
                         f"contracts {a2[-1]} with {b2[-2]}; the last axis of a must equal the "
                         "second-to-last of b (transpose one operand?)")
    batch = broadcast_shapes(a2[:-2], b2[:-2], op="matmul")
    out = batch + ((a2[-2],) if len(a_shape) > 1 else ()) + ((b2[-1],) if len(b_shape) > 1 else ())
    return batch, out


def _check_numeric(op, *types):
    for t in types:
        if t.dtype not in dt.SUPPORTED:
            raise DTypeError(f"{op}: unsupported dtype {t.dtype}")


def _matmul_infer(a: TensorType, b: TensorType) -> TensorType:
    _check_numeric("matmul", a, b)
    return TensorType(matmul_shape(a.shape, b.shape)[1], _product_dtype("matmul", a.dtype, b.dtype))


def _matmul_lower(a, b):
    batch, shape = matmul_shape(a.shape, b.shape)
    out = _product_dtype("matmul", a.dtype, b.dtype)
    nb = len(batch)
    k = a.shape[-1]

    def body(idx, ks):
        bidx, rest = idx[:nb], list(idx[nb:])
        i = rest.pop(0) if a.ndim > 1 else None
        j = rest.pop(0) if b.ndim > 1 else None
        a_idx = (broadcast_indices(a.shape[:-2], bidx) + (i, ks[0])) if a.ndim > 1 else (ks[0],)
        b_idx = (broadcast_indices(b.shape[:-2], bidx) + (ks[0], j)) if b.ndim > 1 else (ks[0],)
        return a[a_idx], b[b_idx]

    return contract(shape, [k], body, out, "T_matmul")


register_op("matmul", pattern="out_elemwise_fusable", infer=_matmul_infer, lower=_matmul_lower,
            reference=lambda a, b: np.asarray(np.matmul(a, b)),
            doc="``a @ b`` (NumPy rules: 1-D operands, broadcast batch dimensions).",
            numpy=NumpyAPI("(x1, x2)", "``x1 @ x2`` with NumPy's rules (1-D operands, broadcast batch dimensions)."))


# ------------------------------------------------------------------ dot

def _dot_shape(a_shape, b_shape):
    if not a_shape or not b_shape:
        return broadcast_shapes(a_shape, b_shape, op="dot")
    axis_b = -2 if len(b_shape) > 1 else -1
    if a_shape[-1] != b_shape[axis_b]:
        raise ShapeError(f"dot: shapes {tuple(a_shape)} and {tuple(b_shape)} not aligned: "
                         f"{a_shape[-1]} (last axis of a) != {b_shape[axis_b]} "
                         f"(axis {axis_b} of b)")
    return tuple(a_shape[:-1]) + tuple(b_shape[:-2]) + tuple(b_shape[-1:] if len(b_shape) > 1 else ())


def _dot_infer(a: TensorType, b: TensorType) -> TensorType:
    _check_numeric("dot", a, b)
    return TensorType(_dot_shape(a.shape, b.shape), _product_dtype("dot", a.dtype, b.dtype))


def _dot_lower(a, b):
    """``np.dot``: sum over the last axis of a and the second-to-last of b."""
    shape = _dot_shape(a.shape, b.shape)
    out = _product_dtype("dot", a.dtype, b.dtype)
    if not a.shape or not b.shape:  # a scalar operand: a plain product
        return contract(shape, [], lambda idx, ks: (a[broadcast_indices(a.shape, idx)],
                                                    b[broadcast_indices(b.shape, idx)]), out, "T_dot")
    na = a.ndim - 1

    def body(idx, ks):
        a_idx = tuple(idx[:na]) + (ks[0],)
        rest = idx[na:]
        b_idx = (tuple(rest[:-1]) + (ks[0], rest[-1])) if b.ndim > 1 else (ks[0],)
        return a[a_idx], b[b_idx]

    return contract(shape, [a.shape[-1]], body, out, "T_dot")


register_op("dot", pattern="out_elemwise_fusable", infer=_dot_infer, lower=_dot_lower,
            reference=lambda a, b: np.asarray(np.dot(a, b)),
            doc="``np.dot(a, b)`` (N-D: last axis of a with second-to-last of b).",
            numpy=NumpyAPI("(a, b, out=None)", "``np.dot(a, b)``."))


# ------------------------------------------------------------------ einsum

def parse_einsum(subscripts: str, shapes) -> tuple[list[str], str, dict[str, int]]:
    """Split ``subscripts`` into input terms and the output term; size every letter.

    Implicit mode (no ``->``) outputs the letters used once, in alphabetical
    order, as NumPy does. Raises ShapeError for a malformed spec or sizes
    that disagree.

    >>> parse_einsum("bij,bjk", [(2, 3, 4), (2, 4, 5)])
    (['bij', 'bjk'], 'ik', {'b': 2, 'i': 3, 'j': 4, 'k': 5})
    """
    if not isinstance(subscripts, str):
        raise ShapeError(f"einsum: subscripts must be a string like 'ij,jk->ik', got {subscripts!r}")
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise ShapeError("einsum: ellipsis ('...') is not supported; name every axis with a letter")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"einsum: {subscripts!r} names {len(terms)} operand(s), got {len(shapes)}")
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        if not all(c.isalpha() for c in term):
            raise ShapeError(f"einsum: term {term!r} of {subscripts!r} must be letters only")
        if len(term) != len(shape):
            raise ShapeError(f"einsum: term {term!r} has {len(term)} letter(s) but its operand has "
                             f"shape {tuple(shape)}")
        for c, n in zip(term, shape):
            if sizes.setdefault(c, n) != n:
                raise ShapeError(f"einsum: index {c!r} has size {sizes[c]} in one place and {n} in "
                                 f"another ({subscripts!r} with shapes {[tuple(s) for s in shapes]})")
    if arrow:
        if not all(c.isalpha() for c in rhs) or len(set(rhs)) != len(rhs):
            raise ShapeError(f"einsum: output term {rhs!r} must be distinct letters")
        missing = [c for c in rhs if c not in sizes]
        if missing:
            raise ShapeError(f"einsum: output index {missing[0]!r} does not appear in any input")
    else:
        counts = {c: lhs.count(c) for c in sizes}
        rhs = "".join(sorted(c for c, n in counts.items() if n == 1))
    return terms, rhs, sizes


def _einsum_infer(*types: TensorType, subscripts) -> TensorType:
    if not types:
        raise ShapeError("einsum: needs at least one operand")
    _, rhs, sizes = parse_einsum(subscripts, [t.shape for t in types])
    return TensorType(tuple(sizes[c] for c in rhs), _product_dtype("einsum", *(t.dtype for t in types)))


def _einsum_lower(*tensors, subscripts):
    """One compute over the output letters, summing over every other letter."""
    out_type = _einsum_infer(*tensors, subscripts=subscripts)
    terms, rhs, sizes = parse_einsum(subscripts, [t.shape for t in tensors])
    contracted = sorted({c for t in terms for c in t} - set(rhs))

    def factors(idx, ks):
        env = dict(zip(rhs, idx)) | dict(zip(contracted, ks))
        return [t[tuple(env[c] for c in letters)] for t, letters in zip(tensors, terms)]

    return contract(out_type.shape, [sizes[c] for c in contracted], factors, out_type.dtype, "T_einsum")


register_op("einsum", pattern="out_elemwise_fusable", infer=_einsum_infer, lower=_einsum_lower,
            reference=lambda *arrays, subscripts: np.asarray(np.einsum(subscripts, *arrays)),
            doc="``np.einsum(subscripts, *operands)`` without ellipsis; one reduction stage.")
