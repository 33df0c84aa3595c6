"""The CPU kernel of ``sort`` for 4-byte values on AVX-512 targets: a vectorised quicksort.

Each value becomes a signed int32 key whose order is the sort order (a float's bits with
the negatives' magnitude bits flipped, every NaN the largest key; complemented when
``descending``), the llvm backend's ``mlc_vsort_i32`` sorts the keys (a quicksort that
partitions 16 keys a step with AVX-512's compress instruction and sorts parts of up to 128
keys in registers: :mod:`mlc.backends.llvm.vector_sort`), and the values are decoded from
them. A row of at least ``SPLIT_MIN`` keys is partitioned once by the median of 64 samples,
and its two parts sort in parallel. Keys tie only where values do (NaNs, and -0.0 with 0.0
when a row has both: their keys differ, but a stable sort keeps their input order), so a
float row holding a NaN or -0.0 is repaired as the radix sort repairs its rows
(:func:`.radix_sort._repair_floats`).

The schedules' CPU rules put this kernel in place of the radix sort (:mod:`.radix_sort`)
where :func:`applies` (the op's ``prim_func`` stays the radix sort: the kernel calls code
only AVX-512 runs fast). On one core of an AVX-512 Intel host it sorted 2^22 float32 values
in 0.8x NumPy's time (NumPy's own AVX-512 quicksort), the radix sort in 2.4x.

>>> from mlc.ops import TensorType
>>> f = vector_sort_func(TensorType((5,), "float32"), descending=False)
>>> [p.name for p in f.params]
['x', 'out']
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.buffer import decl_buffer
from ...ir.expr import PrimExpr, cast, const, isnan, reinterpret, select
from ...ir.extern import VSORT_I32, VSORT_PART_I32, VSORT_SPLIT_I32, address_of, call_extern
from ...ir.tir import BufferStore, Evaluate, For, PrimFunc, Stmt, seq
from ...ir.expr import Var
from ..registry import TensorType
from ._common import hand_written_func
from ._kernel import Scalar, batched, loop, when
from .radix_sort import _Plan, _RowView, _over_chunks, _repair_floats

__all__ = ["vector_sort_func", "applies", "DTYPES", "SPLIT_MIN"]

#: The dtypes the kernel sorts (4-byte keys).
DTYPES = ("float32", "int32", "uint32")
#: Rows this long or longer are split in two parts sorted in parallel.
SPLIT_MIN = 1 << 16

_MAX = 0x7FFFFFFF


def applies(x: TensorType, target) -> bool:
    """Whether ``sort`` of ``x`` runs this kernel on ``target``: 4-byte values (:data:`DTYPES`)
    and an llvm target with AVX-512 (where the compress instruction makes it fast)."""
    return x.dtype in DTYPES and target is not None and target.kind == "llvm" and bool(target.get("avx512f"))


def _i(value: int) -> PrimExpr:
    return const(value, dt.INDEX)


def _flip(bits: PrimExpr) -> PrimExpr:
    """A negative int32's low 31 bits flipped (its own inverse): float bits to ordered keys."""
    return bits ^ ((bits >> const(31, "int32")) & const(_MAX, "int32"))


def _key(v: PrimExpr, descending: bool) -> PrimExpr:
    if v.dtype == "float32":
        key = select(isnan(v), const(_MAX, "int32"), _flip(reinterpret(v, "int32")))
    elif v.dtype == "uint32":
        key = reinterpret(v ^ const(1 << 31, "uint32"), "int32")
    else:
        key = v
    return ~key if descending else key


def _value(key: PrimExpr, dtype: str, descending: bool) -> PrimExpr:
    key = ~key if descending else key
    if dtype == "float32":
        return reinterpret(_flip(key), "float32")
    if dtype == "uint32":
        return reinterpret(key, "uint32") ^ const(1 << 31, "uint32")
    return key


def vector_sort_func(x: TensorType, *, descending: bool) -> PrimFunc:
    """The PrimFunc ``(x, out)`` sorting ``x`` (of :data:`DTYPES`) along its last axis into ``out``."""
    plan = _Plan(x.shape[-1], x.dtype, bool(descending), False)
    X, OUT = decl_buffer(x.shape, x.dtype, "x"), decl_buffer(x.shape, x.dtype, "out")
    keys = decl_buffer((plan.half,), "int32", "keys")
    spare = decl_buffer((plan.half,), "int32", "spare")
    special = decl_buffer((plan.chunks,), "int32", "special")  # a chunk's NaN or -0.0 (float)
    counts = decl_buffer((4,), "int32", "counts")  # _repair_floats's
    lower, acc = Scalar("lower", "int64"), Scalar("acc", "int32")

    def row(r):
        xs, out = _RowView(X, r), _RowView(OUT, r)

        def load(i, t):
            v = xs(i)
            store = BufferStore(keys, _key(v, plan.descending), (i,))
            if not plan.repairs:
                return store
            odd = isnan(v) | (reinterpret(v, "int32") == const(-(1 << 31), "int32"))
            return seq(store, BufferStore(special, special[t] | cast(odd, "int32"), (t,)))

        clear = (lambda t: BufferStore(special, const(0, "int32"), (t,))) if plan.repairs else (lambda t: None)
        n = const(plan.n, "int64")
        if plan.n >= SPLIT_MIN:
            part = Var("part", dt.INDEX)
            start = select(part == _i(0), _i(0), cast(lower.get(), dt.INDEX))
            length = select(part == _i(0), lower.get(), n - lower.get())
            sort = seq(lower.set(call_extern("int64", VSORT_SPLIT_I32, address_of(keys[0]), address_of(spare[0]), n)),
                       For(part, _i(0), _i(2), "parallel",
                           Evaluate(call_extern("int32", VSORT_PART_I32, address_of(spare[start]),
                                                address_of(keys[start]), length))))
        else:
            sort = Evaluate(call_extern("int32", VSORT_I32, address_of(keys[0]), address_of(spare[0]), n))
        store = _over_chunks(plan, lambda t: None,
                             lambda i, t: BufferStore(OUT, _value(keys[i], plan.dtype, plan.descending), out.index(i)))
        body = seq(_over_chunks(plan, clear, load), sort, store)
        if not plan.repairs:
            return body
        flagged = seq(acc.set(0), loop("t", 0, plan.chunks, lambda t: acc.set(acc.get() | special[t])))
        return seq(body, flagged, when(acc.get() != const(0, "int32"), _repair_floats(plan, xs, out, counts)))

    allocs = (keys, spare, lower.buffer, acc.buffer) + ((special, counts) if plan.repairs else ())
    return hand_written_func((X, OUT), batched(x.shape[:-1], row, "r") if plan.n else seq(), allocs)
