"""The formulas of the random ops, written once for te expressions and for NumPy arrays.

Each formula takes a namespace ``m`` (:data:`TE` or :data:`NUMPY`) that says how
to cast, choose and compute math functions, and the Threefry blocks as uint64
values (``x0 << 32 | x1``). The te lowering of an op and its NumPy reference
are then the same steps, which the tests compare.

>>> import numpy as np
>>> block = np.array([0, 2**64 - 1], "uint64")
>>> unit(NUMPY, block, "float32", "[0, 1)").tolist()
[0.0, 0.9999999403953552]
>>> unit(NUMPY, block, "float32", "(-1, 1)").tolist()
[-0.9999999403953552, 0.9999999403953552]
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from ...ir import expr as _e
from ...ir.erfinv import erfinv as np_erfinv

__all__ = ["TE", "NUMPY", "INTERVALS", "SIGNIFICAND", "unit", "standard_normal", "gamma_setup", "gamma_attempt",
           "gamma_boost", "standard_gamma"]

#: Significand bits of each float dtype (the implicit one included): the random bits a
#: uniform number holds.
SIGNIFICAND = {"float32": 24, "float64": 53}
#: The intervals ``unit`` draws from.
INTERVALS = ("[0, 1)", "(0, 1)", "(-1, 1)")

#: te expressions.
TE = SimpleNamespace(cast=_e.cast, select=_e.select, maximum=_e.max, log=_e.log, log1p=_e.log1p, exp=_e.exp,
                     sqrt=_e.sqrt, erfinv=_e.erfinv, logical_and=_e.logical_and)
#: NumPy arrays (the references).
NUMPY = SimpleNamespace(cast=lambda x, dtype: np.asarray(x).astype(dtype), select=np.where, maximum=np.maximum,
                        log=np.log, log1p=np.log1p, exp=np.exp, sqrt=np.sqrt, erfinv=np_erfinv,
                        logical_and=np.logical_and)


def unit(m, block, dtype: str, interval: str):
    """Uniform numbers of ``dtype`` from the top bits of each uint64 ``block``, exactly:
    ``[0, 1)``: ``k / 2^p`` (``k`` the top ``p`` bits, ``p`` the significand's width);
    ``(0, 1)``: ``(2k + 1) / 2^p`` (``k`` of ``p - 1`` bits); ``(-1, 1)``:
    ``(2k + 1 - 2^p) / 2^p`` (``k`` of ``p`` bits: odd integers below 2^p, symmetric)."""
    p = SIGNIFICAND[dtype]
    scale = 2.0 ** -p
    if interval == "[0, 1)":
        return m.cast(block >> (64 - p), dtype) * scale
    if interval == "(0, 1)":
        return m.cast(((block >> (65 - p)) << 1) | 1, dtype) * scale
    odd = m.cast(((block >> (64 - p)) << 1) | 1, "int64") - (1 << p)
    return m.cast(odd, dtype) * scale


def standard_normal(m, block, dtype: str):
    """Standard normal numbers by the inverse CDF: ``sqrt(2) erfinv(u)``, ``u`` in (-1, 1)."""
    return m.erfinv(unit(m, block, dtype, "(-1, 1)")) * math.sqrt(2.0)


def gamma_setup(m, a, dtype: str):
    """Marsaglia and Tsang's constants for shape ``a``: (boost, d, c), ``boost`` 1 where
    ``a < 1`` (drawn for ``a + 1``, then scaled: :func:`gamma_boost`), else 0."""
    boost = m.cast(a < 1, dtype)
    d = a + boost - 1.0 / 3.0  # (a + 0 is a: exact either way)
    return boost, d, 1.0 / m.sqrt(d * 9.0)


def gamma_attempt(m, x, u, d, c, dtype: str):
    """One attempt from a normal ``x`` and a uniform ``u`` in [0, 1): (accepted, candidate)."""
    t = c * x + 1.0
    cube = t * t * t
    v = m.maximum(cube, float(np.finfo(dtype).tiny))  # (v <= 0 is rejected: the floor keeps the log finite)
    accept = m.logical_and(cube > 0, m.log1p(-u) < x * x * 0.5 + d - d * v + d * m.log(v))
    return accept, d * v


def gamma_boost(m, result, w, boost, a):
    """``result * w^(1/a)`` where ``a < 1`` (``boost`` 1; else times ``w^0 = 1``), ``w``
    uniform in [0, 1) (``1 - w`` in (0, 1])."""
    return result * m.exp(m.log1p(-w) * boost / a)


def standard_gamma(m, a, blocks, dtype: str, attempts: int):
    """Gamma(a, 1) numbers by Marsaglia and Tsang's method, every attempt computed:
    ``blocks(s)`` is the Threefry block of stream ``s`` (attempt ``k`` takes streams ``2k``
    and ``2k + 1``, the boost for ``a < 1`` stream ``2 * attempts``). The first accepted
    candidate is kept (none: the last one)."""
    boost, d, c = gamma_setup(m, a, dtype)
    candidates = [gamma_attempt(m, standard_normal(m, blocks(2 * k), dtype),
                                unit(m, blocks(2 * k + 1), dtype, "[0, 1)"), d, c, dtype)
                  for k in range(attempts)]
    result = candidates[-1][1]
    for accept, candidate in reversed(candidates[:-1]):
        result = m.select(accept, candidate, result)
    return gamma_boost(m, result, unit(m, blocks(2 * attempts), dtype, "[0, 1)"), boost, a)
