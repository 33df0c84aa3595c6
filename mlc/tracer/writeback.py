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
shifted view of another) are not compiled when one of them is written: the jitted call runs
the function as NumPy does, uncompiled, with a PerformanceWarning (:class:`PartialOverlap`).

>>> a = np.zeros(4)
>>> alias_pattern([a, a, np.ones(2)], writes=(0,))
(0, 0, 2)
>>> alias_pattern([a, np.ones(4)], writes=(0,)) is None
True

Where the graph's ``main`` writes an argument in its own memory (``Graph.written``), the call
passes the caller's array itself: no copy in, no copy out (:func:`run_in_place`). It stages
the argument in a contiguous copy of the traced dtype, and copies that back after the run,
where the caller's array cannot be written directly (not C-contiguous: a Fortran-order array
or a strided view; misaligned) or where the run verifies traced ints afterwards (a bounds
check: when one fails, no argument has been written).
"""
from __future__ import annotations

import numpy as np

from ..errors import MLCError
from ..runtime import loader

__all__ = ["AliasMismatch", "PartialOverlap", "WriteError", "alias_pattern", "write_back", "run_in_place", "STAGED"]


class WriteError(MLCError, ValueError):
    """An argument the function writes cannot be written as NumPy would (read-only, or
    overlapping another argument in part)."""


class PartialOverlap(WriteError):
    """Arguments overlap in memory in part (``f(a[1:], a[:-1])``) and the function writes one of
    them. A jitted call runs the function uncompiled then, as NumPy (``JitFunction.__call__``)."""


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
    return PartialOverlap(f"arguments {m} and {n} overlap in memory (one is a view into the other) and "
                          "the jitted function writes into one of them; NumPy sees each write through "
                          "the other, which compiled code follows only for the very same array passed "
                          "twice.")


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


#: How many arguments :func:`run_in_place` staged in a copy (copied in, then back), for tests
#: that a call writing in place makes no copy; one count per process.
STAGED = [0]


def run_in_place(run, leaves, in_place: dict, checks=()):
    """``run(arrays)`` (a ``main`` writing the arguments at the positions of ``in_place``,
    position -> traced dtype, into their own memory, and returning the other outputs, the
    ``len(checks)`` values to verify last): the outputs, less those values.

    >>> x = np.zeros(3)
    >>> def bump(arrays):
    ...     arrays[0] += 1
    ...     return []
    >>> run_in_place(bump, [x], {0: "float64"}), x
    ([], array([1., 1., 1.]))
    >>> y = np.zeros((3, 2))[:, 0]                    # a strided view: staged, then copied back
    >>> _ = run_in_place(bump, [y], {0: "float64"}); y
    array([1., 1., 1.])
    """
    arrays = leaves
    staged = []
    for k, dtype in in_place.items():
        target = leaves[k]
        if isinstance(target, np.ndarray) and not target.flags.writeable:
            raise WriteError("the jitted function writes into an argument that is a read-only array (NumPy: "
                             "'assignment destination is read-only'); pass a writeable array (a copy)")
        if checks or not (type(target) is np.ndarray and target.flags.c_contiguous and target.flags.aligned
                          and target.dtype == dtype):
            if arrays is leaves:
                arrays = list(leaves)
            arrays[k] = np.array(target, dtype=dtype, order="C", copy=True)
            staged.append(k)
    STAGED[0] += len(staged)
    outs = run(arrays)
    if checks:
        n = len(outs) - len(checks)
        for check, value in zip(checks, outs[n:]):  # before the caller's arrays change
            check.verify(value)
        outs = outs[:n]
    for k in staged:
        write_back(leaves[k], arrays[k])
    return outs
