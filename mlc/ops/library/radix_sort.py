"""The CPU kernel of ``sort`` and ``argsort``: a stable LSD radix sort, one byte a pass.

Each element becomes an unsigned key of its width whose integer order is the sort
order (:mod:`._sort_keys`). A pass sorts the keys stably by one byte, least
significant first, in three steps over ``chunks`` parallel pieces of the row:

1. **count**: each chunk counts its elements' digits into a histogram of its own;
2. **starts**: a serial prefix sum turns the counts into each (digit, chunk)'s first
   slot, digit by digit and chunk by chunk within a digit (so equal digits keep
   their order), and notes a pass whose digit is one for the whole row (the high
   bytes of small integers): its stable scatter is the identity, so it is skipped;
3. **scatter**: each chunk moves its elements, in order, to their bucket's next slot.

``sort`` carries the keys alone and decodes them in the last pass, ``argsort`` the
keys and the int64 positions. The first pass reads the input and the last writes
the output; the passes between run in a loop (not unrolled: the kernel stays
small and compiles fast) over the two halves of a scratch buffer.

A float ``sort`` carries its values' bits as keys (:func:`~._sort_keys.float_bits`,
which decode back), where -0.0 sorts before 0.0 and NaNs by sign and payload.
NumPy's stable order ties the zeros and puts every NaN last, in input order, so
a row holding a NaN or a -0.0 (the first count notes them) is repaired after the
last pass: the numbers move up to their final place, then one read of the input
writes its NaNs and zeros, in order, into their blocks.

>>> from mlc.ops import TensorType
>>> f = radix_sort_func(TensorType((5,), "float32"), descending=False, indices=True)
>>> [p.name for p in f.params]
['x', 'out']
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir import dtype as dt
from ...ir.buffer import Buffer, decl_buffer
from ...ir.expr import PrimExpr, Var, cast, const, isnan, logical_and, min as _e_min, reinterpret
from ...ir.extern import address_of, call_extern
from ...ir.tir import BufferStore, Evaluate, For, PrimFunc, Stmt, seq
from ..registry import TensorType
from ._common import hand_written_func
from ._kernel import Scalar, batched, loop, when
from ._sort_keys import float_bits, float_value, int_value, key_dtype, sort_key

__all__ = ["radix_sort_func", "DIGIT_BITS", "MIN_CHUNK", "MAX_CHUNKS"]

#: The bits a pass sorts by: 256 buckets keep the scatter's write streams in L1 and its
#: pages in the TLB (3 passes of 11 bits measured slower, benchmarks/results/decisions.md).
DIGIT_BITS = 8
RADIX = 1 << DIGIT_BITS

#: How far ahead of a bucket's next slot the scatter asks for the cache line it will write:
#: each bucket is one write stream, far more than the hardware prefetchers follow; without the
#: hint every new line of every bucket waits on memory (a pass took twice as long).
PREFETCH_BYTES = 128

#: A row of n elements is counted and scattered in min(MAX_CHUNKS, n // MIN_CHUNK) parallel
#: chunks (enough for the threads of a large machine); shorter rows in one.
MIN_CHUNK, MAX_CHUNKS = 1 << 16, 16


def _i(value: int) -> PrimExpr:
    return const(value, dt.INDEX)


@dataclass(frozen=True)
class _Plan:
    """What one row's sort is: its length, its chunks, its keys and what it carries."""
    n: int
    dtype: str
    descending: bool
    indices: bool

    @property
    def key_dtype(self) -> str:
        return key_dtype(self.dtype)

    @property
    def passes(self) -> int:
        return dt.bits(self.key_dtype) // DIGIT_BITS

    @property
    def chunks(self) -> int:
        return max(1, min(MAX_CHUNKS, self.n // MIN_CHUNK))

    @property
    def float_bits(self) -> bool:
        """Whether the keys are the values' bits (a float ``sort``; repaired after, see above)."""
        return not self.indices and dt.is_float(self.dtype)

    def chunk(self, t: PrimExpr) -> tuple[PrimExpr, PrimExpr]:
        """(first element, length) of chunk ``t``: the first ``n % chunks`` chunks one longer."""
        base, rem = divmod(self.n, self.chunks)
        start = t * _i(base) + _e_min(t, _i(rem))
        return start, _i(base) + cast(t < _i(rem), dt.INDEX) if rem else _i(base)

    def key(self, x: PrimExpr) -> PrimExpr:
        if self.float_bits:
            return float_bits(x, self.key_dtype, self.descending)
        return sort_key(x, self.descending)

    def value(self, key: PrimExpr) -> PrimExpr:
        """The value whose key is ``key`` (``sort``'s keys are a bijection of the values)."""
        if dt.is_float(self.dtype):
            return float_value(key, self.dtype, self.descending)
        return int_value(key, self.dtype, self.descending)


@dataclass(frozen=True)
class _Side:
    """Where a pass reads its elements or writes them: ``read(i)`` gives element ``i``'s (key,
    position or None); ``write(slot, key, position)`` the stores putting an element at ``slot``;
    ``lines(slot)`` the buffer elements whose cache lines a write at ``slot`` soon needs."""
    read: object
    write: object
    lines: object = None


def _prefetch(load) -> Stmt:
    return Evaluate(call_extern("int32", "mlc_prefetch_for_write", address_of(load)))


def _ahead(slot: PrimExpr, dtype: str, last: int) -> PrimExpr:
    """The slot ``PREFETCH_BYTES`` after ``slot`` (at most ``last``)."""
    return _e_min(slot + _i(max(1, PREFETCH_BYTES * 8 // dt.bits(dtype))), _i(last))


def _digit(key: PrimExpr, shift: PrimExpr) -> PrimExpr:
    return cast((key >> cast(shift, key.dtype)) & const(RADIX - 1, key.dtype), dt.INDEX)


def _over_chunks(plan: _Plan, prologue, body) -> For:
    """For each chunk ``t``, in parallel: ``prologue(t)``, then ``body(i, t)`` for its elements."""
    t = Var("t", dt.INDEX)
    start, length = plan.chunk(t)
    j = Var("j", dt.INDEX)
    elements = For(j, _i(0), length, "serial", body(start + j, t))
    return For(t, _i(0), _i(plan.chunks), "parallel", seq(prologue(t), elements))


def _count(plan: _Plan, hist: Buffer, side: _Side, shift: PrimExpr, note=None) -> For:
    """Each chunk's histogram of the digits at ``shift`` (``note(i, t)``: more stores an element)."""
    def prologue(t):
        return loop("d", 0, RADIX, lambda d: BufferStore(hist, const(0, "int32"), (t * _i(RADIX) + d,)))

    def body(i, t):
        at = t * _i(RADIX) + _digit(side.read(i)[0], shift)
        return seq(BufferStore(hist, hist[at] + const(1, "int32"), (at,)), note(i, t) if note else None)
    return _over_chunks(plan, prologue, body)


def _starts(plan: _Plan, hist: Buffer, acc: Scalar, alike: Scalar) -> Stmt:
    """The counts to bucket starts, digit by digit and chunk by chunk within a digit; ``alike``
    notes a digit that holds the whole row."""
    def chunk(d, t):
        at = t * _i(RADIX) + d
        return seq(acc.set(acc.get() + hist[at]), BufferStore(hist, acc.get() - hist[at], (at,)))

    def digit(d):
        whole = logical_and(hist[d] == const(0, "int32"), acc.get() == const(plan.n, "int32"))
        return seq(loop("t", 0, plan.chunks, lambda t: chunk(d, t)), when(whole, alike.set(1)))
    return seq(acc.set(0), alike.set(0), loop("d", 0, RADIX, digit))


def _scatter(plan: _Plan, hist: Buffer, source: _Side, target: _Side, shift: PrimExpr) -> For:
    """Each chunk's elements, in order, to their bucket's next slot."""
    def body(i, t):
        key, position = source.read(i)
        at = t * _i(RADIX) + _digit(key, shift)
        slot = hist[at]
        slot_ = cast(slot, dt.INDEX)
        return seq(*target.write(slot_, key, position), BufferStore(hist, slot + const(1, "int32"), (at,)),
                   *(_prefetch(line) for line in target.lines(slot_)))
    return _over_chunks(plan, lambda t: None, body)


def _copy(plan: _Plan, source: _Side, target: _Side) -> For:
    """Each element to its own slot: the last pass when its digit is one for the whole row."""
    return _over_chunks(plan, lambda t: None, lambda i, t: seq(*target.write(i, *source.read(i))))


def _repair_floats(plan: _Plan, x, out, counts: Buffer) -> Stmt:
    """NumPy's order for a float row sorted by its bits: NaNs last (first, descending) and zeros
    tied, both in input order. The bits' order is [NaNs of one sign | numbers, -0.0 and 0.0 apart |
    the other NaNs]; the numbers move to their place, then one read of ``x`` writes the NaNs and
    the zeros into their blocks in input order."""
    kdt = plan.key_dtype
    front_sign = 0 if plan.descending else 1  # the sign of the NaNs the bits' order puts first
    front, nans, before, nan_at, zero_at = (counts[_i(k)] for k in range(5))

    def set_(k, value):
        return BufferStore(counts, value, (_i(k),))

    def tally(i):
        v = x(i)
        sign = reinterpret(v, kdt) >> const(dt.bits(kdt) - 1, kdt)
        number_before = v > const(0, plan.dtype) if plan.descending else v < const(0, plan.dtype)
        return seq(set_(0, front + cast(logical_and(isnan(v), sign == const(front_sign, kdt)), "int32")),
                   set_(1, nans + cast(isnan(v), "int32")),
                   set_(2, before + cast(number_before, "int32")))
    numbers = _i(plan.n) - cast(nans, dt.INDEX)
    first = cast(nans, dt.INDEX) if plan.descending else _i(0)  # where the numbers go

    def move(j):  # forward when they move down, backward when up: no element is overwritten unread
        j = numbers - _i(1) - j if plan.descending else j
        return BufferStore(out.buffer, out(cast(front, dt.INDEX) + j), out.index(first + j))

    def place(i):
        v = x(i)
        nan_slot, zero_slot = cast(nan_at, dt.INDEX), cast(zero_at, dt.INDEX)
        return when(isnan(v), seq(BufferStore(out.buffer, v, out.index(nan_slot)), set_(3, nan_at + const(1, "int32"))),
                    when(v == const(0, plan.dtype),
                         seq(BufferStore(out.buffer, v, out.index(zero_slot)), set_(4, zero_at + const(1, "int32")))))
    return seq(*(set_(k, const(0, "int32")) for k in range(3)), loop("i", 0, plan.n, tally),
               loop("j", 0, numbers, move),
               set_(3, const(0, "int32") if plan.descending else cast(numbers, "int32")),
               set_(4, cast(first, "int32") + before),
               loop("i", 0, plan.n, place))


@dataclass(frozen=True)
class _RowView:
    """Element access to one row ``r`` of a buffer: ``view(i)`` loads, ``view.index(i)`` indexes."""
    buffer: Buffer
    r: tuple

    def __call__(self, i):
        return self.buffer[self.r + (i,)]

    def index(self, i):
        return self.r + (i,)


def radix_sort_func(x: TensorType, *, descending: bool, indices: bool) -> PrimFunc:
    """The PrimFunc ``(x, out)`` sorting ``x`` along its last axis into ``out`` (the values, or
    with ``indices`` their int64 positions)."""
    plan = _Plan(x.shape[-1], x.dtype, descending, indices)
    n, kdt, passes = plan.n, plan.key_dtype, plan.passes
    X = decl_buffer(x.shape, x.dtype, "x")
    OUT = decl_buffer(x.shape, "int64" if indices else x.dtype, "out")
    half = max(n, 1)
    keys = decl_buffer((2 * half,), kdt, "keys")
    where = decl_buffer((2 * half,), "int64", "where") if indices else None
    hist = decl_buffer((plan.chunks * RADIX,), "int32", "hist")
    acc, alike, cur = Scalar("acc", "int32"), Scalar("alike", "int32"), Scalar("cur", dt.INDEX)
    special = decl_buffer((plan.chunks,), "int32", "special")
    counts = decl_buffer((5,), "int32", "counts")

    def scratch(h) -> _Side:
        """Half ``h`` (an index expression) of the scratch buffers."""
        def read(i):
            return keys[h * _i(half) + i], where[h * _i(half) + i] if indices else None

        def write(slot, key, position):
            stores = [BufferStore(keys, key, (h * _i(half) + slot,))]
            return stores + ([BufferStore(where, position, (h * _i(half) + slot,))] if indices else [])

        def lines(slot):
            return [b[h * _i(half) + _ahead(slot, b.dtype, half - 1)] for b in (keys, where) if b is not None]
        return _Side(read, write, lines)

    def row(r):
        xs, out = _RowView(X, r), _RowView(OUT, r)
        source = _Side(lambda i: (plan.key(xs(i)), cast(i, "int64") if indices else None), None)
        target = _Side(None, lambda slot, key, position: [
            BufferStore(OUT, position if indices else plan.value(key), out.index(slot))],
            lambda slot: [out(_ahead(slot, OUT.dtype, n - 1))])

        def note(i, t):  # a NaN or a -0.0 in a float row sorted by its bits
            v = xs(i)
            odd = isnan(v) | (reinterpret(v, kdt) == const(1 << (dt.bits(kdt) - 1), kdt))
            return BufferStore(special, special[t] | cast(odd, "int32"), (t,))

        def first_count():
            if not plan.float_bits:
                return _count(plan, hist, source, _i(0))
            clear = loop("t", 0, plan.chunks, lambda t: BufferStore(special, const(0, "int32"), (t,)))
            return seq(clear, _count(plan, hist, source, _i(0), note))

        if passes == 1:
            body = seq(first_count(), _starts(plan, hist, acc, alike), _scatter(plan, hist, source, target, _i(0)))
        else:
            here, there = scratch(cur.get()), scratch(_i(1) - cur.get())

            def middle(p):
                shift = p * _i(DIGIT_BITS)
                move = seq(_scatter(plan, hist, here, there, shift), cur.set(_i(1) - cur.get()))
                return seq(_count(plan, hist, here, shift), _starts(plan, hist, acc, alike),
                           when(logical_and(p < _i(passes - 1), alike.get() == const(0, "int32")), move))
            last = when(alike.get() != const(0, "int32"), _copy(plan, here, target),
                        _scatter(plan, hist, here, target, _i((passes - 1) * DIGIT_BITS)))
            body = seq(first_count(), _starts(plan, hist, acc, alike),
                       _scatter(plan, hist, source, scratch(_i(0)), _i(0)), cur.set(_i(0)),
                       loop("p", 1, passes, middle), last)
        if plan.float_bits:
            flagged = acc.set(0), loop("t", 0, plan.chunks, lambda t: acc.set(acc.get() | special[t]))
            body = seq(body, *flagged, when(acc.get() != const(0, "int32"), _repair_floats(plan, xs, out, counts)))
        return body

    allocs = (keys, hist, acc.buffer, alike.buffer, cur.buffer) + ((where,) if indices else ()) + \
        ((special, counts) if plan.float_bits else ())
    return hand_written_func((X, OUT), batched(x.shape[:-1], row, "r") if n else seq(), allocs)
