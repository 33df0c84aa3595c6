"""Writing a jitted function's written arguments back into the caller's arrays.

A function that writes into an argument (``x[0] = 1``, ``x += y``) returns the
argument's last version as a hidden output (:func:`.state.written_inputs`);
after each run it is copied into the array the caller passed, which NumPy
would have changed in place.

Arguments that share memory are one array to NumPy: ``f(a, a)`` writing its
first argument changes its second. A trace assumes its arguments apart, so a
function that writes is traced again for a call whose arguments share memory,
with each group of identical arrays (the same memory, shape, strides and dtype)
one array (:func:`alias_pattern`); arguments that overlap otherwise (one a
shifted view of another) are refused when one of them is written.

>>> a = np.zeros(4)
>>> alias_pattern([a, a, np.ones(2)], writes=(0,))
(0, 0, 2)
>>> alias_pattern([a, np.ones(4)], writes=(0,)) is None
True
"""
from __future__ import annotations

import numpy as np

from ..errors import MLCError
from ..runtime import loader

__all__ = ["AliasMismatch", "WriteError", "alias_pattern", "write_back"]


class WriteError(MLCError, ValueError):
    """An argument the function writes cannot be written as NumPy would (read-only, or
    overlapping another argument in part)."""


class AliasMismatch(MLCError):
    """A call's arguments share memory otherwise than the ones the function was traced for;
    ``pattern`` is the call's (:func:`alias_pattern`). The jit traces again for it."""

    def __init__(self, pattern):
        super().__init__("the arguments of this call share memory otherwise than those this function was "
                         "compiled for, and it writes into an argument: call the jitted function itself, "
                         "which compiles each way of sharing")
        self.pattern = pattern


def alias_pattern(leaves, writes) -> tuple[int, ...] | None:
    """None when no two NumPy arrays of ``leaves`` share memory; else, per leaf, the first
    leaf that is the same array (itself where none is). WriteError where arrays overlap in
    part and one of them is among ``writes`` (leaf positions)."""
    return loader.alias_pattern(leaves, writes, _overlap)


def _overlap(m: int, n: int) -> WriteError:
    return WriteError(f"arguments {m} and {n} overlap in memory (one is a view into the other) and "
                      "the jitted function writes into one of them; NumPy would see each write "
                      "through the other, which mlc follows only for the very same array passed "
                      "twice. Pass a copy of one of them")


def write_back(target, value) -> None:
    """Copy ``value`` (the argument's last version) into the caller's array ``target``."""
    if isinstance(target, np.ndarray):
        if not target.flags.writeable:
            raise WriteError("the jitted function writes into an argument that is a read-only array (NumPy: "
                             "'assignment destination is read-only'); pass a writeable array (a copy)")
        if not isinstance(value, np.ndarray) and hasattr(value, "__cuda_array_interface__"):
            value = value.get()  # a NumPy argument of a function run on the GPU: copied back to the host
        np.copyto(target, value, casting="unsafe")
    else:  # a CuPy array (or another array type with item assignment)
        target[...] = value
