"""The CPU kernel of ``sort`` for 4-byte values on AVX-512 targets: a vectorised quicksort.

The llvm backend's ``mlc_vsort_<codec>`` (:mod:`mlc.backends.llvm.vector_sort`) sorts a
row: each value read as a signed int32 key whose order is the sort order, a quicksort
that partitions 16 keys a step with AVX-512's compress instruction (in place in ``out``
after the first pass: no scratch buffer) and sorts parts of up to 128 keys in registers,
the values decoded as they are stored; a part still unsorted after 2 log2(n) partitions is
heapsorted (an input built against the pivot sampling is never quadratic). A row of at least
``SPLIT_MIN`` values is sorted by two threads: each takes the keys on its side of the
median of 64 samples, and sorts them into their place. Keys tie only where values do, except that every NaN is one key and
-0.0 sorts before 0.0, so a float row holding a NaN or -0.0 (the kernel says so) is
repaired as the radix sort repairs its rows (:func:`.radix_sort._repair_floats`: NaNs
and zeros in their input order, as a stable sort leaves them).

The schedules' CPU rules put this kernel in place of the radix sort (:mod:`.radix_sort`)
where :func:`applies` (the op's ``prim_func`` stays the radix sort: this kernel calls code
only AVX-512 runs fast). On one core of an AVX-512 Intel host it sorted 2^22 float32 values
in about NumPy's time (NumPy's own AVX-512 quicksort), the radix sort in 2.4 times it.

>>> from mlc.ops import TensorType
>>> f = vector_sort_func(TensorType((5,), "float32"), descending=False)
>>> [p.name for p in f.params]
['x', 'out']
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.buffer import decl_buffer
from ...ir.expr import PrimExpr, Var, const
from ...ir.extern import address_of, call_extern, vsort_name
from ...ir.tir import Evaluate, For, PrimFunc, seq
from ..registry import TensorType
from ._common import hand_written_func
from ._kernel import batched, when
from .radix_sort import _Plan, _RowView, _repair_floats

__all__ = ["vector_sort_func", "applies", "DTYPES", "SPLIT_MIN"]

#: The dtypes the kernel sorts (4-byte keys).
DTYPES = ("float32", "int32", "uint32")
#: Rows this long or longer are split in two parts sorted in parallel.
SPLIT_MIN = 1 << 16


def applies(x: TensorType, target) -> bool:
    """Whether ``sort`` of ``x`` runs this kernel on ``target``: 4-byte values (:data:`DTYPES`)
    and an llvm target with AVX-512 (where the compress instruction makes it fast)."""
    return x.dtype in DTYPES and target is not None and target.kind == "llvm" and bool(target.get("avx512f"))


def _i(value: int) -> PrimExpr:
    return const(value, dt.INDEX)


def vector_sort_func(x: TensorType, *, descending: bool) -> PrimFunc:
    """The PrimFunc ``(x, out)`` sorting ``x`` (of :data:`DTYPES`) along its last axis into ``out``."""
    plan = _Plan(x.shape[-1], x.dtype, bool(descending), False)
    X, OUT = decl_buffer(x.shape, x.dtype, "x"), decl_buffer(x.shape, x.dtype, "out")
    flag = decl_buffer((1,), "int32", "flag")  # the row holds a NaN or -0.0 (float)
    counts = decl_buffer((4,), "int32", "counts")  # _repair_floats's

    def name(entry):
        return vsort_name(entry, plan.dtype, plan.descending)

    def row(r):
        xs, out = _RowView(X, r), _RowView(OUT, r)
        n = const(plan.n, "int64")
        args = (address_of(xs(_i(0))), address_of(out(_i(0))), address_of(flag[0]), n)
        if plan.n >= SPLIT_MIN:
            part = Var("part", dt.INDEX)
            sort = For(part, _i(0), _i(2), "parallel", Evaluate(call_extern("int32", name("half"), *args, part)))
        else:
            sort = Evaluate(call_extern("int32", name("sort"), *args))
        if not plan.repairs:
            return sort
        return seq(sort, when(flag[0] != const(0, "int32"), _repair_floats(plan, xs, out, counts)))

    allocs = (flag,) + ((counts,) if plan.repairs else ())
    return hand_written_func((X, OUT), batched(x.shape[:-1], row, "r") if plan.n else seq(), allocs)
