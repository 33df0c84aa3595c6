"""Rules of the contractions: matmul, dot, einsum and nn.dense.

A contraction is linear in each operand: its tangent is the sum of the
contraction with one operand replaced by its tangent, and an operand's
cotangent contracts the result's cotangent with the other operands. For
``matmul`` these are matmuls again (``g @ b.T``, ``a.T @ g``, 1-D operands
promoted to matrices and broadcast batch dimensions summed away); ``dot`` is
rewritten as the einsum it is; an einsum operand's cotangent is one einsum
of the cotangent and the other operands, with an identity matrix for a letter
repeated in the operand (a diagonal) and a vector of ones for a letter only
that operand has (a sum it took).
"""
from __future__ import annotations

import string

import numpy as np

from ...errors import ShapeError
from ..library.linalg import parse_einsum
from ..registry import define_rules
from .core import apply_op, differentiable, is_zero, move_batch_to_front, ones, unbroadcast

__all__ = ["dot_subscripts", "einsum_cotangent"]


# ------------------------------------------------------------------ matmul

def _as_matrices(a, b):
    a2 = a if a.ndim > 1 else np.reshape(a, (1,) + tuple(a.shape))
    b2 = b if b.ndim > 1 else np.reshape(b, tuple(b.shape) + (1,))
    return a2, b2


def _swap(x):
    return np.swapaxes(x, -1, -2)


def _matmul_vjp(ct, primals, out):
    a, b = primals
    a2, b2 = _as_matrices(a, b)
    batch = tuple(out.shape[:len(out.shape) - (a.ndim > 1) - (b.ndim > 1)])
    g = np.reshape(ct, batch + (a2.shape[-2], b2.shape[-1]))
    if a2.ndim == 2 or b2.ndim == 2:  # one side without batch axes: contractions in place, no transposes
        return _matmul_vjp_by_einsum(g, a, b, a2, b2)
    da = db = None
    if differentiable(a.dtype):
        da = np.reshape(unbroadcast(np.matmul(g, _swap(b2)), a2.shape), a.shape)
    if differentiable(b.dtype):
        db = np.reshape(unbroadcast(np.matmul(_swap(a2), g), b2.shape), b.shape)
    return da, db


def _matmul_vjp_by_einsum(g, a, b, a2, b2):
    """The cotangents of ``a @ b`` where one operand (as a matrix ``a2``/``b2``) has no batch axes:
    one einsum each, which reads the other operand transposed in place (the matmul schedule
    takes any layout) and sums the batch axes in its reduction."""
    lead = "".join(_fresh(g.ndim - 2, "mkn"))
    a_term = (lead if a2.ndim > 2 else "") + "mk"
    b_term = (lead if b2.ndim > 2 else "") + "kn"
    g_term = lead + "mn"
    da = db = None
    if differentiable(a.dtype):
        da = np.reshape(np.einsum(f"{g_term},{b_term}->{a_term}", g, b2), a.shape)
    if differentiable(b.dtype):
        db = np.reshape(np.einsum(f"{a_term},{g_term}->{b_term}", a2, g), b.shape)
    return da, db


def _bilinear_jvp(name):
    def jvp(primals, tangents, out, **attrs):
        (a, b), (ta, tb) = primals, tangents
        terms = []
        if not is_zero(ta):
            terms.append(apply_op(name, ta, b, **attrs))
        if not is_zero(tb):
            terms.append(apply_op(name, a, tb, **attrs))
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]
    jvp.__name__ = f"jvp_{name.replace('.', '_')}"
    return jvp


def _matmul_batch(args, dims):
    (a, b), (da, db) = args, dims
    vectors = [x.ndim - (d is not None) == 1 for x, d in zip(args, dims)]
    prepared = []
    for n, (x, d, vec) in enumerate(zip(args, dims, vectors)):
        lead = () if d is None else (x.shape[d],)
        x = move_batch_to_front(x, d)
        if vec:
            own = tuple(x.shape[len(lead):])
            x = np.reshape(x, lead + ((1,) + own if n == 0 else own + (1,)))
        prepared.append((x, d is not None))
    loops = max(x.ndim - 2 - batched for x, batched in prepared)
    operands = []
    for x, batched in prepared:
        if batched:
            missing = loops - (x.ndim - 3)
            if missing:
                x = np.reshape(x, (x.shape[0],) + (1,) * missing + tuple(x.shape[1:]))
        operands.append(x)
    out = np.matmul(*operands)
    if vectors[0]:
        out = np.squeeze(out, axis=-2)
    if vectors[1]:
        out = np.squeeze(out, axis=-1)
    return out, 0


# ------------------------------------------------------------------ einsum and dot

def _fresh(count: int, used: str) -> list[str]:
    pool = [c for c in string.ascii_letters if c not in used]
    if count > len(pool):
        raise ShapeError("einsum: too many letters to differentiate this contraction")
    return pool[:count]


def einsum_cotangent(ct, operands, subscripts: str, k: int):
    """The cotangent of operand ``k`` of ``einsum(subscripts, *operands)`` given the result's ``ct``."""
    terms, rhs, sizes = parse_einsum(subscripts, [x.shape for x in operands])
    target = operands[k]
    others = [(t, x) for n, (t, x) in enumerate(zip(terms, operands)) if n != k]
    available = set(rhs) | {c for t, _ in others for c in t}
    fresh = iter(_fresh(len(terms[k]) + 1, "".join(terms) + rhs))
    out_letters, extra_terms, extra_operands, seen = [], [], [], set()
    for c in terms[k]:
        if c in seen:  # a repeated letter: a diagonal, given by an identity matrix
            d = next(fresh)
            extra_terms.append(c + d)
            extra_operands.append(np.eye(sizes[c], dtype=np.dtype(ct.dtype)))
            out_letters.append(d)
            continue
        seen.add(c)
        out_letters.append(c)
        if c not in available:  # summed over by this operand alone: spread over it
            extra_terms.append(c)
            extra_operands.append(ones(ct, (sizes[c],)))
            available.add(c)
    spec = ",".join([rhs] + [t for t, _ in others] + extra_terms) + "->" + "".join(out_letters)
    return np.einsum(spec, ct, *(x for _, x in others), *extra_operands)


def _einsum_jvp(primals, tangents, out, *, subscripts):
    total = None
    for k, t in enumerate(tangents):
        if is_zero(t):
            continue
        term = apply_op("einsum", *primals[:k], t, *primals[k + 1:], subscripts=subscripts)
        total = term if total is None else total + term
    return total


def _einsum_vjp(ct, primals, out, *, subscripts):
    return tuple(einsum_cotangent(ct, primals, subscripts, k) if differentiable(x.dtype) else None
                 for k, x in enumerate(primals))


def _einsum_batch(args, dims, *, subscripts):
    terms, rhs, _ = parse_einsum(subscripts, [x.shape if d is None else x.shape[:d] + x.shape[d + 1:]
                                              for x, d in zip(args, dims)])
    (letter,) = _fresh(1, "".join(terms) + rhs)
    operands, new_terms = [], []
    for x, d, term in zip(args, dims, terms):
        operands.append(move_batch_to_front(x, d))
        new_terms.append(term if d is None else letter + term)
    spec = ",".join(new_terms) + "->" + letter + rhs
    return apply_op("einsum", *operands, subscripts=spec), 0


def dot_subscripts(a_ndim: int, b_ndim: int) -> str:
    """``np.dot``'s contraction as einsum subscripts.

    >>> dot_subscripts(2, 3), dot_subscripts(1, 1), dot_subscripts(0, 2)
    ('ab,cbd->acd', 'a,a->', ',ab->ab')
    """
    if not a_ndim or not b_ndim:
        letters = string.ascii_lowercase[:max(a_ndim, b_ndim)]
        return f"{letters if a_ndim else ''},{letters if b_ndim else ''}->{letters}"
    a = string.ascii_lowercase[:a_ndim]
    k = a[-1]
    rest = string.ascii_lowercase[a_ndim:a_ndim + b_ndim - 1]
    b = k if b_ndim == 1 else rest[:-1] + k + rest[-1]
    out = a[:-1] + (rest if b_ndim > 1 else "")
    return f"{a},{b}->{out}"


def _dot_jvp(primals, tangents, out):
    return _einsum_jvp(primals, tangents, out, subscripts=dot_subscripts(primals[0].ndim, primals[1].ndim))


def _dot_vjp(ct, primals, out):
    return _einsum_vjp(ct, primals, out, subscripts=dot_subscripts(primals[0].ndim, primals[1].ndim))


def _dot_batch(args, dims):
    ranks = [x.ndim - (d is not None) for x, d in zip(args, dims)]
    return _einsum_batch(args, dims, subscripts=dot_subscripts(*ranks))


# ------------------------------------------------------------------ nn.dense

def _dense_vjp(ct, primals, out):
    x, w = primals
    dx = np.matmul(ct, w) if differentiable(x.dtype) else None
    dw = None
    if differentiable(w.dtype):
        lead = "".join(_fresh(x.ndim - 1, "nk"))
        dw = np.einsum(f"{lead}n,{lead}k->nk", ct, x)
    return dx, dw


def _dense_batch(args, dims):
    (x, w), (dx, dw) = args, dims
    if dw is None:
        return apply_op("nn.dense", move_batch_to_front(x, dx), w), 0
    x_term = "".join(string.ascii_lowercase[:x.ndim - (dx is not None) - 1])
    x = move_batch_to_front(x, dx)
    w = move_batch_to_front(w, dw)
    lhs = ("B" if dx is not None else "") + x_term + "K"
    return np.einsum(f"{lhs},BNK->B{x_term}N", x, w), 0


def _register() -> None:
    define_rules("matmul", jvp=_bilinear_jvp("matmul"), vjp=_matmul_vjp, batch=_matmul_batch)
    define_rules("einsum", jvp=_einsum_jvp, vjp=_einsum_vjp, batch=_einsum_batch)
    define_rules("dot", jvp=_dot_jvp, vjp=_dot_vjp, batch=_dot_batch)
    define_rules("nn.dense", jvp=_bilinear_jvp("nn.dense"), vjp=_dense_vjp, batch=_dense_batch)


_register()
