"""Sorting along the last axis: ``sort`` and ``argsort``, a stable LSD radix sort.

Each element's key (:mod:`._sort_keys`, shared with the GPU kernel) is an
unsigned integer of the element's width whose order is the sort order (both
zeros one key, every NaN the largest; ``descending`` complements it), so a
stable sort of the keys keeps ties in their input order, as NumPy does. The
keys are sorted by bytes, least significant first (4 passes for 32-bit keys, 8
for 64-bit ones; 256 buckets keep the scatter's write streams in L1,
which measured faster than 3 passes of 11-bit digits): one pass counts every
digit's histogram, a prefix sum turns the counts into bucket starts, and each
digit pass scatters (key, payload) pairs in input order, so equal digits keep
their order. The payload is the value (``sort``) or its int64 position
(``argsort``); the last pass scatters it straight into the output. A float
row with neither NaN nor -0.0 (the counting pass notes them) has keys that
are a bijection of its bits: ``sort`` then carries the keys themselves and
the last pass decodes them, instead of recomputing each key every pass.

A long row (``MIN_CHUNK`` elements per chunk at least) is cut into up to
``MAX_CHUNKS`` chunks counted and scattered in parallel, each with its own
histogram: bucket starts then run digit by digit and, within a digit, chunk
by chunk, so the sort stays stable. Chunks count each pass's own order, one
pass at a time (one chunk counts every pass in its single read of the input);
the first pass's counts come from the read that notes NaN and -0.0. A chunk
counts into ``COPIES`` histograms, element ``j`` into copy ``j % COPIES``, summed
by the prefix sum: runs of one digit (the exponent byte of floats of one
magnitude) would otherwise wait on the increment of the element before.
A pass before the last whose digit is one for the whole row (the high bytes
of small integers) copies instead of scattering: the stable scatter is the
identity.

This is no loop nest of te stages (its stores go to data-dependent places),
so the ops are ``opaque`` ones with a hand-written PrimFunc (``prim_func``),
already scheduled: O(n) work per digit, rows one after the other. On the GPU
the ops run their ``gpu_prim_func`` instead, a bitonic network over the same
keys (:mod:`.sorting_gpu`).

>>> from mlc.ops import TensorType, get_op
>>> f = get_op("argsort").prim_func(TensorType((5,), "float32"), descending=False)
>>> [p.name for p in f.params]
['x', 'out']
"""
from __future__ import annotations

import math

import numpy as np

from ...ir import dtype as dt
from ...ir.buffer import decl_buffer
from ...ir.expr import Var, cast, const, isnan, logical_and as _e_and, logical_or as _e_or, min as _e_min, \
    reinterpret
from ...ir.tir import Allocate, BufferStore, For, IfThenElse, PrimFunc, seq
from ..registry import TensorType, register_op
from ._common import hand_written_func
from ._kernel import batched
from ._sort_keys import check_sortable, float_bits, float_value, key_dtype, sort_key
from .sorting_gpu import bitonic_sort_func

__all__ = ["radix_sort_func", "DIGIT_BITS", "MIN_CHUNK", "MAX_CHUNKS", "COPIES"]

#: The widest digit of a pass (see the module's docstring).
DIGIT_BITS = 8

#: A row of n elements is counted and scattered in min(MAX_CHUNKS, n // MIN_CHUNK) parallel
#: chunks (see the module's docstring); shorter rows in one.
MIN_CHUNK, MAX_CHUNKS = 1 << 16, 16

#: Histograms a chunk counts into, round robin (see the module's docstring).
COPIES = 4


def _plan(bits: int) -> tuple[int, int]:
    """(number of digit passes, digit width) for keys of ``bits`` bits."""
    passes = math.ceil(bits / DIGIT_BITS)
    return passes, math.ceil(bits / passes)


def _loop(name: str, extent: int, body) -> For:
    """A serial loop over ``range(extent)`` whose body is ``body(loop_var)``."""
    v = Var(name, dt.INDEX)
    return For(v, const(0, dt.INDEX), const(extent, dt.INDEX), "serial", body(v))


def radix_sort_func(x: TensorType, *, descending: bool, indices: bool) -> PrimFunc:
    """The PrimFunc ``(x, out)`` sorting ``x`` along its last axis into ``out`` (the values,
    or with ``indices`` their int64 positions).

    ``sort`` carries only the values (each pass recomputes their keys) or, for floats without
    NaN and -0.0, only the keys; ``argsort`` carries keys and positions. The output row doubles
    as the scratch buffer the last pass does not read.
    """
    lead, n = x.shape[:-1], x.shape[-1]
    X = decl_buffer(x.shape, x.dtype, "x")
    out_dtype = "int64" if indices else x.dtype
    OUT = decl_buffer(x.shape, out_dtype, "out")
    kdt = key_dtype(x.dtype)
    bits = dt.bits(kdt)
    passes, width = _plan(bits)
    radix, mask = 1 << width, const((1 << width) - 1, kdt)
    scratch = max(n, 1)
    keys = [decl_buffer((scratch,), kdt, f"keys{k}") for k in range(2)] if indices else []
    carry = [decl_buffer((scratch,), out_dtype, f"carry{k}") for k in range(2)]
    chunks = max(1, min(MAX_CHUNKS, n // MIN_CHUNK))
    base, rem = divmod(n, chunks)  # chunk t: base elements, one more for the first rem chunks
    # [chunk, pass, digit] counts: one chunk counts every pass at once; several count pass by pass
    sections = passes if chunks == 1 else 1
    hist = decl_buffer((chunks * sections * radix,), "int32", "hist")
    # several chunks: [chunk, copy, digit] counts of one pass, summed into hist by the prefix sum
    counts = decl_buffer((chunks * COPIES * radix,), "int32", "counts") if chunks > 1 else None
    acc = decl_buffer((1,), "int32", "acc")
    alike = decl_buffer((passes,), "int32", "alike")  # pass p's digit is one for the whole row
    bits_only = not indices and dt.is_float(x.dtype) and n > 0
    flag = decl_buffer((chunks + 1,), "int32", "special")  # one per chunk, then their or
    one, zero = const(1, "int32"), const(0, dt.INDEX)

    def section(p, t):
        """Where chunk ``t``'s counts of pass ``p`` start in ``hist``."""
        return (t * const(sections, dt.INDEX) + const(p % sections, dt.INDEX)) * const(radix, dt.INDEX)

    def digit(key, p, t):
        return cast((key >> const(p * width, kdt)) & mask, dt.INDEX) + section(p, t)

    def chunk_bounds(t):
        start = t * const(base, dt.INDEX) + _e_min(t, const(rem, dt.INDEX))
        extent = const(base, dt.INDEX) + cast(t < const(rem, dt.INDEX), dt.INDEX) if rem else \
            const(base, dt.INDEX)
        return start, extent

    def over_chunks(chunk):
        v = Var("t", dt.INDEX)
        return For(v, const(0, dt.INDEX), const(chunks, dt.INDEX), "parallel", chunk(v))

    def chunked(body):
        """``body(i, t)`` for every element ``i`` of every chunk ``t``, the chunks in parallel."""
        if chunks == 1:
            return _loop("i", n, lambda i: body(i, zero))

        def chunk(t):
            start, extent = chunk_bounds(t)
            j = Var("j", dt.INDEX)
            return For(j, const(0, dt.INDEX), extent, "serial", body(start + j, t))
        return over_chunks(chunk)

    def grouped(size, group, single):
        """``group(i_0..i_size-1, t)`` for each ``size`` consecutive elements of every chunk ``t``
        (the chunks in parallel, when several), then ``single(i, t)`` for the chunk's tail."""
        def chunk(t, start, extent, length):
            g, j = Var("g", dt.INDEX), Var("j", dt.INDEX)
            first = start + g * const(size, dt.INDEX)
            groups = For(g, const(0, dt.INDEX), const(length // size, dt.INDEX), "serial",
                         group(*(first + const(c, dt.INDEX) for c in range(size)), t))
            whole = const(length // size * size, dt.INDEX)
            tail = For(j, const(0, dt.INDEX), extent - whole, "serial", single(start + whole + j, t))
            return seq(groups, tail)
        if chunks == 1:
            return chunk(zero, zero, const(n, dt.INDEX), n)
        return over_chunks(lambda t: chunk(t, *chunk_bounds(t), base))

    def counted(body):
        """``body(i, t, c)`` for every element ``i`` of every chunk ``t`` (several chunks), ``c`` its
        histogram copy: ``COPIES`` elements an iteration, then the chunk's tail into copy 0."""
        return grouped(COPIES, lambda *its: seq(*(body(i, its[-1], c) for c, i in enumerate(its[:-1]))),
                       lambda i, t: body(i, t, 0))

    def row(r):
        # carry[(passes - 1) % 2] is never read by the last pass: the output row stands in for it
        def load(k, i):
            return OUT[r + (i,)] if k == (passes - 1) % 2 else carry[k][i]

        def store(k, i, value):
            return BufferStore(OUT, value, r + (i,)) if k == (passes - 1) % 2 else \
                BufferStore(carry[k], value, (i,))

        def payload(i, p):
            """Pass ``p``'s value at ``i``: what the previous pass left, or the input."""
            if p > 0:
                return load((p - 1) % 2, i)
            return cast(i, "int64") if indices else X[r + (i,)]

        def key(i, p, bits_path=False):
            """The key of pass ``p``'s element ``i``; ``bits_path``: the scratch holds keys' bits."""
            if indices:
                return keys[p % 2][i]
            if bits_path:
                return float_bits(X[r + (i,)], kdt, descending) if p == 0 else \
                    reinterpret(load((p - 1) % 2, i), kdt)
            return sort_key(payload(i, p), descending)

        def note(i, t):
            """What the first read of the row stores besides counts: argsort's keys, float flags."""
            stores = [BufferStore(keys[0], sort_key(X[r + (i,)], descending), (i,))] if indices else []
            if bits_only:  # note a NaN or a -0.0: their keys are not their bits'
                v = X[r + (i,)]
                odd = _e_or(isnan(v), reinterpret(v, kdt) == const(1 << (bits - 1), kdt))
                stores.append(BufferStore(flag, flag[t] | cast(odd, "int32"), (t,)))
            return stores

        def count_all(i, t):  # one chunk: every pass's counts in one read (the order is the input's)
            stores = note(i, t)
            for p in range(passes):
                d = digit(key(i, 0), p, t)
                stores.append(BufferStore(hist, hist[d] + one, (d,)))
            return seq(*stores)

        def tally(k, p, t, c):
            """One more element of digit ``(k >> p * width) & mask`` in chunk ``t``'s copy ``c``."""
            d = cast((k >> const(p * width, kdt)) & mask, dt.INDEX) + \
                (t * const(COPIES, dt.INDEX) + const(c, dt.INDEX)) * const(radix, dt.INDEX)
            return BufferStore(counts, counts[d] + one, (d,))

        def count(p, bits_path):  # several chunks: counts of pass p's own order
            return seq(zero_counts(), counted(lambda i, t, c: tally(key(i, p, bits_path), p, t, c)))

        def prefix(p):
            """Counts to bucket starts, digit by digit and chunk by chunk within a digit (stable):
            ``acc`` runs over the counts, each takes the sum before it."""
            def body(d, t):
                at = section(p, t) + d
                if chunks == 1:
                    return seq(BufferStore(acc, acc[zero] + hist[at], (zero,)),
                               BufferStore(hist, acc[zero] - hist[at], (at,)))
                copies = [counts[(t * const(COPIES, dt.INDEX) + const(c, dt.INDEX)) * const(radix, dt.INDEX) + d]
                          for c in range(COPIES)]
                total = copies[0]
                for more in copies[1:]:
                    total = total + more
                return seq(BufferStore(hist, acc[zero], (at,)), BufferStore(acc, acc[zero] + total, (zero,)))

            def whole(d):  # digit d holds the whole row: it starts at 0 and ends at n
                return BufferStore(alike, alike[pk] | cast(_e_and(hist[section(p, zero) + d] == const(0, "int32"),
                                                                  acc[zero] == const(n, "int32")), "int32"), (pk,))
            pk = const(p, dt.INDEX)
            return seq(BufferStore(acc, const(0, "int32"), (zero,)), BufferStore(alike, const(0, "int32"), (pk,)),
                       _loop("d", radix, lambda d: seq(body(d, zero) if chunks == 1 else
                                                       _loop("c", chunks, lambda t: body(d, t)), whole(d))))

        def scatter(p, bits_path):
            """Pass ``p``: each element to its bucket's next slot. On the bits path the scratch
            carries the keys' bits (cheaper than recomputing keys) and the last pass decodes them.

            The last pass (the sign and exponent byte of floats: few buckets, long runs of one)
            places two elements an iteration, the second one slot further when they share a
            bucket: both slots are read before either bucket moves on, so a run of one bucket
            waits on one increment per pair instead of one per element."""
            def place(i, k, pos):
                if p == passes - 1:
                    value = float_value(k, x.dtype, descending) if bits_path else payload(i, p)
                    return [BufferStore(OUT, value, r + (pos,))]
                stores = [BufferStore(keys[(p + 1) % 2], k, (pos,))] if indices else []
                return stores + [store(p % 2, pos, reinterpret(k, x.dtype) if bits_path else payload(i, p))]

            def body(i, t):
                k = key(i, p, bits_path)
                d = digit(k, p, t)
                return seq(*place(i, k, cast(hist[d], dt.INDEX)),
                           BufferStore(hist, hist[d] + one, (d,)))  # the bucket's next slot

            if p < passes - 1:  # one digit for the whole row: the stable scatter is the identity
                copy = chunked(lambda i, t: seq(*place(i, key(i, p, bits_path), i)))
                return IfThenElse(alike[const(p, dt.INDEX)] != const(0, "int32"), copy, chunked(body))
            slot = decl_buffer((2,), "int32", "slot")

            def pair(i0, i1, t):
                k0, k1 = key(i0, p, bits_path), key(i1, p, bits_path)
                d0, d1 = digit(k0, p, t), digit(k1, p, t)
                return seq(BufferStore(slot, hist[d0], (zero,)),
                           BufferStore(slot, hist[d1] + cast(d0 == d1, "int32"), (const(1, dt.INDEX),)),
                           *place(i0, k0, cast(slot[zero], dt.INDEX)),
                           *place(i1, k1, cast(slot[const(1, dt.INDEX)], dt.INDEX)),
                           BufferStore(hist, slot[zero] + one, (d0,)),
                           BufferStore(hist, slot[const(1, dt.INDEX)] + one, (d1,)))
            # (a copy in its place when the row has one digit measured slower: the pairs then
            # write in order, one increment per pair)
            return Allocate(slot, grouped(2, pair, body)) if chunks == 1 else \
                grouped(2, lambda i0, i1, t: Allocate(slot, pair(i0, i1, t)), body)

        def passes_of(bits_path):
            if chunks == 1:
                return seq(*(prefix(p) for p in range(passes)), *(scatter(p, bits_path) for p in range(passes)))
            # the first pass's counts come from the first read (its keys are sort_key's: where the
            # bits path runs, no NaN nor -0.0 makes them differ from the bits')
            return seq(*(seq(*([count(p, bits_path)] if p else []), prefix(p), scatter(p, bits_path))
                         for p in range(passes)))

        def zero_hist():
            return _loop("h", chunks * sections * radix, lambda h: BufferStore(hist, const(0, "int32"), (h,)))

        def zero_counts():
            return _loop("h", chunks * COPIES * radix, lambda h: BufferStore(counts, const(0, "int32"), (h,)))

        def first_read():
            """The one read of the input before the passes: every pass's counts (one chunk) or the
            first pass's (several), argsort's keys, float flags."""
            if chunks == 1:
                return seq(zero_hist(), chunked(count_all))
            return seq(zero_counts(), counted(lambda i, t, c: seq(*note(i, t),
                                                                  tally(sort_key(X[r + (i,)], descending), 0, t, c))))

        last = const(chunks, dt.INDEX)
        work = passes_of(False)
        flags = [first_read()]
        if bits_only:
            work = IfThenElse(flag[last] == const(0, "int32"), passes_of(True), work)
            flags = [_loop("f", chunks, lambda t: BufferStore(flag, const(0, "int32"), (t,))), first_read(),
                     BufferStore(flag, const(0, "int32"), (last,)),
                     _loop("f", chunks, lambda t: BufferStore(flag, flag[last] | flag[t], (last,)))]
        return seq(*flags, work)

    used = [carry[k] for k in range(2) if k != (passes - 1) % 2 and passes > 1]
    allocs = tuple(keys[:2 if passes > 1 else 1]) + (hist, acc, alike) + ((counts,) if counts is not None else ()) + \
        ((flag,) if bits_only else ()) + tuple(used)
    return hand_written_func((X, OUT), batched(lead, row, "r"), allocs)


def _infer(name: str, indices: bool):
    def infer(x: TensorType, *, descending=False) -> TensorType:
        check_sortable(name, x)
        return TensorType(x.shape, "int64" if indices else x.dtype)
    return infer


def _reference(indices: bool):
    def reference(x, *, descending=False):
        order = _order(x, descending)
        return order.astype("int64") if indices else np.take_along_axis(x, order, axis=-1)
    return reference


def _order(x, descending: bool):
    """NumPy's stable order along the last axis; descending: NaN first, ties in input order."""
    if not descending:
        return np.argsort(x, axis=-1, kind="stable")
    if x.dtype.kind == "f":
        nan = np.isnan(x)
        return np.lexsort((-np.where(nan, 0, x), ~nan), axis=-1)
    return np.argsort(np.invert(x.astype("uint8") if x.dtype == np.bool_ else x), axis=-1, kind="stable")


def _prim_func(indices: bool):
    def prim_func(x: TensorType, *, descending=False) -> PrimFunc:
        check_sortable("argsort" if indices else "sort", x)
        return radix_sort_func(x, descending=bool(descending), indices=indices)
    return prim_func


def _gpu_prim_func(indices: bool):
    def gpu_prim_func(x: TensorType, *, descending=False) -> PrimFunc:
        return bitonic_sort_func(x, descending=bool(descending), indices=indices)
    return gpu_prim_func


register_op("sort", pattern="opaque", infer=_infer("sort", False), lower=None, reference=_reference(False),
            prim_func=_prim_func(False), gpu_prim_func=_gpu_prim_func(False),
            doc="``x`` sorted along its last axis, stably (NaN last; ``descending``: NaN first, "
                "ties still in input order).")
register_op("argsort", pattern="opaque", infer=_infer("argsort", True), lower=None,
            reference=_reference(True), prim_func=_prim_func(True), gpu_prim_func=_gpu_prim_func(True),
            doc="The int64 positions that sort ``x`` along its last axis, stably (as ``sort``).")
