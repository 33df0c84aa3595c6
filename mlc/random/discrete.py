"""Discrete draws: coins, integers, categories, choices and permutations.

- ``bernoulli``: ``uniform < p``; ``rademacher``: -1 or 1;
- ``randint``: ``minval + floor(u (maxval - minval))`` with ``u`` a uniform number of 53 bits
  for 32-bit (and narrower) dtypes, ``minval + bits64 mod (maxval - minval)`` for 64-bit
  ones: some values are more likely than others by at most ``span / 2^53`` (below 2^-21 for
  32-bit ranges) and ``span / 2^64``;
- ``categorical``: the Gumbel-max trick, ``argmax(logits + gumbel)``;
- ``permutation``: the order that sorts 64-bit random keys (ties, which a sort would
  break by position, have probability below n^2 / 2^65);
- ``choice``: indices by ``randint`` (with replacement), by the inverse CDF
  (``searchsorted`` of the cumulative ``p``), by a permutation's first entries
  (without replacement), or by the Gumbel top-k (without replacement, weighted).

>>> import mlc.random as mr
>>> sorted(mr.permutation(mr.key(0), 5).tolist())
[0, 1, 2, 3, 4]
"""
from __future__ import annotations

import math

import numpy as np

from .. import numpy as mnp
from ..errors import DTypeError, ShapeError
from ..ir import dtype as dt
from ..numpy._api import emit
from ..ops.library import normalize_axis
from ..tracer.operands import as_tracer
from ._api import as_key, draw_bits, int_dtype, normalize_shape, open_unit, parameters_shape, random_function, unit

__all__ = ["bits", "bernoulli", "rademacher", "randint", "categorical", "permutation", "choice"]


@random_function("key")
def bits(key, shape=(), dtype="uint32"):
    """Uniformly random unsigned integers of ``dtype`` (uint8, uint16, uint32, uint64): the top
    bits of each element's Threefry block.

    >>> import mlc.random as mr
    >>> mr.bits(mr.key(0), (2,)), mr.bits(mr.key(0), (2,), "uint8")
    (array([1797259609, 1351547692], dtype=uint32), array([107,  80], dtype=uint8))
    """
    where = "mlc.random.bits"
    key, shape, dtype = as_key(key, where), normalize_shape(shape, where), dt.canonical(dtype)
    if not dt.is_unsigned(dtype):
        raise DTypeError(f"{where}: dtype must be an unsigned integer dtype (uint8, uint16, uint32, uint64), "
                         f"got {dtype}")
    if dtype == "uint64":
        return draw_bits(key, shape, "uint64")
    return (draw_bits(key, shape) >> (32 - dt.bits(dtype))).astype(dtype)


@random_function("key", "p")
def bernoulli(key, p=0.5, shape=None):
    """Booleans that are True with probability ``p`` (``shape`` defaults to ``p``'s).

    >>> import mlc.random as mr
    >>> float(mr.bernoulli(mr.key(0), 0.25, (10000,)).mean())   # 0.25 +- 0.0043
    0.256
    """
    where = "mlc.random.bernoulli"
    key, p = as_key(key, where), as_tracer(p)
    c = p.dtype.name if p.dtype.name == "float64" else "float32"
    shape = parameters_shape(shape, where, p)
    out = unit(key, shape, c) < p.astype(c)
    if tuple(out.shape) != shape:
        raise ShapeError(f"{where}: p of shape {tuple(p.shape)} does not broadcast to shape {shape}")
    return out


@random_function("key")
def rademacher(key, shape=(), dtype="int32"):
    """-1 or 1, each with probability 1/2."""
    where = "mlc.random.rademacher"
    key, shape, dtype = as_key(key, where), normalize_shape(shape, where), dt.canonical(dtype)
    top = draw_bits(key, shape) >> 31
    return (top.astype("int32") * 2 - 1).astype(dtype)


@random_function("key", "minval", "maxval")
def randint(key, shape, minval, maxval, dtype="int32"):
    """Integers in [minval, maxval) (``minval`` where ``maxval <= minval``); the bounds broadcast
    against ``shape`` and are clipped into ``dtype``'s range.

    >>> import mlc.random as mr
    >>> x = mr.randint(mr.key(0), (1000,), 3, 7)
    >>> sorted(set(x.tolist())), x.dtype
    ([3, 4, 5, 6], dtype('int32'))
    """
    where = "mlc.random.randint"
    key, shape, dtype = as_key(key, where), normalize_shape(shape, where), int_dtype(dtype, where)
    info = np.iinfo(dtype)
    lo, hi = (_clipped_bound(v, info) for v in (minval, maxval))
    span = mnp.maximum(hi - lo, 0)
    if dt.bits(dtype) <= 32:  # floor(u span): a multiply, where a 64-bit modulo is a scalar division
        scaled = mnp.floor(unit(key, shape, "float64") * span.astype("float64")).astype("int64")
        offset = mnp.minimum(scaled, mnp.maximum(span - 1, 0))  # (u span may round up to span)
    else:
        offset = (draw_bits(key, shape, "uint64") % mnp.maximum(span, 1).astype("uint64")).astype("int64")
    out = (lo + offset).astype(dtype)
    if tuple(out.shape) != shape:
        raise ShapeError(f"{where}: minval and maxval do not broadcast to shape {shape} (they give "
                         f"{tuple(out.shape)})")
    return out


def _clipped_bound(value, info) -> object:
    """A bound of randint as int64, clipped into the result dtype's range."""
    if isinstance(value, int):
        return as_tracer(min(max(value, int(info.min)), min(int(info.max), 2**63 - 1)))
    t = as_tracer(value).strong()
    if t.dtype.kind not in "iub":
        raise ShapeError(f"mlc.random.randint: minval and maxval must be integers, got {t.dtype}")
    return mnp.clip(t.astype("int64"), max(int(info.min), -2**63), min(int(info.max), 2**63 - 1))


@random_function("key", "logits")
def categorical(key, logits, axis=-1, shape=None):
    """Category indices (int32) drawn with probabilities ``softmax(logits)`` along ``axis``;
    ``shape`` defaults to ``logits.shape`` without ``axis`` (and may add leading axes).

    >>> import numpy as np, mlc.random as mr
    >>> x = mr.categorical(mr.key(0), np.log(np.array([0.2, 0.8], "float32")), shape=(10000,))
    >>> round(float(x.mean()), 1)
    0.8
    """
    where = "mlc.random.categorical"
    key, logits = as_key(key, where), as_tracer(logits)
    if logits.ndim == 0:
        raise ShapeError(f"{where}: logits must have at least one axis (the categories), got a 0-d array")
    axis = normalize_axis(where, axis, logits.ndim)
    logits = mnp.moveaxis(logits, axis, -1)
    if logits.dtype.kind != "f":
        logits = logits.astype("float32")
    batch = tuple(logits.shape[:-1])
    shape = normalize_shape(batch if shape is None else shape, where)
    if len(shape) < len(batch) or shape[len(shape) - len(batch):] != batch:
        raise ShapeError(f"{where}: shape {shape} must be the batch shape {batch} of logits, or add "
                         "leading axes to it")
    noise = _gumbel(key, (*shape, logits.shape[-1]), logits.dtype.name)
    return mnp.argmax(logits + noise, axis=-1).astype("int32")


def _gumbel(key, shape, dtype: str):
    c = "float32" if dtype == "float16" else dtype
    return -mnp.log(-mnp.log(open_unit(key, shape, c)))


def _sorting_keys(key, shape):
    return draw_bits(key, shape, "uint64")


@random_function("key", "x", lengths=("x",))
def permutation(key, x, axis=0, independent=False):
    """A random permutation of ``arange(x)`` (an int ``x``), or of ``x``'s entries along ``axis``;
    ``independent=True`` permutes each line along ``axis`` on its own.

    >>> import numpy as np, mlc.random as mr
    >>> mr.permutation(mr.key(0), np.arange(6).reshape(3, 2)).shape
    (3, 2)
    """
    where = "mlc.random.permutation"
    key = as_key(key, where)
    if isinstance(x, int):
        if x < 0:
            raise ShapeError(f"{where}: x must be a length (at least 0) or an array, got {x}")
        return mnp.argsort(_sorting_keys(key, (x,)))
    x = as_tracer(x)
    if x.ndim == 0:
        raise ShapeError(f"{where}: x must be an int or an array of at least one axis, got a 0-d array")
    axis = normalize_axis(where, axis, x.ndim)
    if independent:
        order = mnp.argsort(_sorting_keys(key, tuple(x.shape)), axis=axis)
        return mnp.take_along_axis(x, order, axis=axis)
    return mnp.take(x, mnp.argsort(_sorting_keys(key, (x.shape[axis],))), axis=axis)


@random_function("key", "a", "p", lengths=("a",))
def choice(key, a, shape=(), replace=True, p=None, axis=0):
    """Entries of ``a`` along ``axis`` (of ``arange(a)`` for an int ``a``) for ``shape``, with
    or without replacement, uniformly or with probabilities ``p``.

    >>> import mlc.random as mr
    >>> sorted(mr.choice(mr.key(0), 10, (10,), replace=False).tolist()) == list(range(10))
    True
    """
    where = "mlc.random.choice"
    key, shape = as_key(key, where), normalize_shape(shape, where)
    population = mnp.arange(a) if isinstance(a, int) else as_tracer(a)
    if population.ndim == 0:
        raise ShapeError(f"{where}: a must be an int or an array of at least one axis, got a 0-d array")
    axis = normalize_axis(where, axis, population.ndim)
    n, count = population.shape[axis], math.prod(shape)
    if n == 0 and count:
        raise ShapeError(f"{where}: cannot take {count} entries from an empty population")
    weights = None if p is None else as_tracer(p)
    if weights is not None and (weights.ndim != 1 or weights.shape[0] != n):
        raise ShapeError(f"{where}: p must be 1-D with one probability per entry ({n}), got shape "
                         f"{tuple(weights.shape)}")
    if not replace and count > n:
        raise ShapeError(f"{where}: cannot take {count} entries out of {n} without replacement; "
                         "ask for fewer, or pass replace=True")
    if replace and weights is None:
        index = randint(key, shape, 0, n)
    elif replace:
        c = weights.dtype.name if weights.dtype.name == "float64" else "float32"
        cdf = mnp.cumsum(weights.astype(c))
        u = unit(key, shape, c) * cdf[-1]
        index = mnp.minimum(mnp.searchsorted(cdf, u, side="right"), n - 1)
    elif weights is None:
        index = mnp.argsort(_sorting_keys(key, (n,)))[:count].reshape(shape)
    else:  # the Gumbel top-k: the k largest of log p + gumbel are a weighted draw without replacement
        c = weights.dtype.name if weights.dtype.name == "float64" else "float32"
        ranked = mnp.log(weights.astype(c)) + _gumbel(key, (n,), c)
        index = mnp.argsort(ranked, descending=True)[:count].reshape(shape)
    return mnp.take(population, index, axis=axis)

