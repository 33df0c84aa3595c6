"""Keys: make one from a seed, split one into several, fold data into one.

A key is a uint32 array of shape (2,), the Threefry key the draws hash with.
Keys are plain arrays: pass them to jitted functions as arguments (they are
traced like any array), store them, print them. Drawing twice from one key
gives the same numbers; split it first, as in JAX:

>>> import mlc.random as mr
>>> key = mr.key(0)
>>> key
array([0, 0], dtype=uint32)
>>> key, sub = mr.split(key)
>>> mr.split(mr.key(0), 3).shape
(3, 2)

``split(key, n)[j]`` is Threefry's block of ``key`` at counter ``(j, 1)``,
``fold_in(key, data)`` its block at ``(data, 2)``; the draws take counter
``(element index, 0)`` and gamma's attempts ``(index, 3...)``, so no two uses
of one key share a counter (:mod:`mlc.ops.library.random`).
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError
from ..numpy import arange, stack, zeros
from ..numpy._api import emit
from ..tracer.operands import as_tracer
from ..tracer.tracer import Tracer
from ..ops.library._common import check_int_attr
from ..ops.library.random import FOLD_STREAM, SPLIT_STREAM
from ._api import as_key, random_function

__all__ = ["key", "PRNGKey", "split", "fold_in"]

_MASK = 2**32 - 1


def key(seed) -> np.ndarray:
    """The key of an integer ``seed`` (its 64 bits, high word first, as JAX's ``PRNGKey``):
    a uint32 array of shape (2,). A traced integer seed gives a traced key.

    >>> key(1), key(2**32 + 5), key(-1)
    (array([0, 1], dtype=uint32), array([1, 5], dtype=uint32), array([4294967295, 4294967295], dtype=uint32))
    """
    if isinstance(seed, Tracer):
        if seed.ndim != 0 or seed.dtype.kind not in "iub":
            raise DTypeError(f"mlc.random.key: the seed must be an integer scalar, got {seed!r}")
        wide = seed.strong().astype("int64") if seed.dtype.kind != "u" else seed.astype("uint64")
        return stack([(wide >> 32).astype("uint32"), wide.astype("uint32")])
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise DTypeError(f"mlc.random.key: the seed must be an int, got {type(seed).__name__} {seed!r}")
    seed = int(seed)
    if not -2**63 <= seed < 2**64:
        raise DTypeError(f"mlc.random.key: the seed must fit 64 bits, got {seed}")
    seed &= 2**64 - 1
    return np.array([seed >> 32, seed & _MASK], dtype="uint32")


#: JAX's name.
PRNGKey = key


@random_function("key")
def split(key, num=2):
    """``num`` new keys from ``key``, as the rows of a (num, 2) array (unpack them:
    ``key, sub = split(key)``), independent of each other and of ``key``'s own draws.

    >>> import mlc.random as mr
    >>> mr.split(mr.key(0))
    array([[ 928981903, 3453687069],
           [2473972575,  935721516]], dtype=uint32)
    """
    num = check_int_attr("mlc.random.split", "num", num, minimum=0)
    key = as_key(key, "mlc.random.split")
    counters = stack([arange(num, dtype="uint32"), zeros(num, "uint32") + np.uint32(SPLIT_STREAM)], axis=-1)
    return emit("random.threefry2x32", [key, as_tracer(counters)])


@random_function("key", "data")
def fold_in(key, data):
    """A new key from ``key`` and an integer ``data`` (its low 32 bits; a traced one too): the
    way to give each step of a loop, each layer, each device its own key.

    >>> import mlc.random as mr
    >>> mr.fold_in(mr.key(0), 1).shape
    (2,)
    """
    key = as_key(key, "mlc.random.fold_in")
    data = as_tracer(data)
    if data.ndim != 0 or data.dtype.kind not in "iub":
        raise (ShapeError if data.ndim else DTypeError)(
            f"mlc.random.fold_in: data must be an integer scalar, got {data!r}")
    word = data.strong().astype("uint32")
    counters = stack([word, zeros((), "uint32") + np.uint32(FOLD_STREAM)])
    return emit("random.threefry2x32", [key, counters.reshape(1, 2)]).reshape(2)
