"""The CPU kernel of ``sort`` and ``argsort``: a stable LSD radix sort, 11 bits a pass.

Each element becomes an unsigned key of its width whose integer order is the sort
order (:mod:`._sort_keys`). The keys (and, for ``argsort``, the positions they came
from) live in the two halves of a scratch buffer; a pass sorts them stably by one
digit (``digit_bits`` wide), least significant first, from one half into the
other, in three steps over ``chunks`` parallel pieces of the row:

1. **count**: each chunk counts its elements' digits into a histogram of its own
   (the first pass counts while it loads the keys from the input);
2. **starts**: unless the first element's digit counts the whole row (the high
   digits of small integers: the pass would move nothing, so it is skipped), a
   serial prefix sum turns the counts into each (digit, chunk)'s first slot, digit
   by digit and chunk by chunk within a digit (so equal digits keep their order);
3. **scatter**: each chunk moves its elements, in order, to their bucket's next slot.

The passes run in one loop, not unrolled, and a last parallel loop stores the
values (decoded from the keys) or the positions: three parallel loops whatever
the dtype, a small kernel that compiles fast. The scatter asks for the cache line
it will write a little ahead of each bucket (``PREFETCH_BYTES``).

A float ``sort`` decodes its values from their keys, which tie -0.0 with 0.0 and
every NaN with every other: a row holding a NaN or a -0.0 (the load notes them)
is repaired after the store (:func:`_repair_floats`).

>>> from mlc.ops import TensorType
>>> f = radix_sort_func(TensorType((5,), "float32"), descending=False, indices=True)
>>> [p.name for p in f.params]
['x', 'out']
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir import dtype as dt
from ...ir.buffer import Buffer, decl_buffer
from ...ir.expr import PrimExpr, Var, cast, const, isnan, min as _e_min, reinterpret
from ...ir.extern import PREFETCH_FOR_WRITE, address_of, call_extern
from ...ir.tir import BufferStore, Evaluate, For, PrimFunc, Stmt, seq
from ..registry import TensorType
from ._common import hand_written_func
from ._kernel import Scalar, batched, loop, when
from ._sort_keys import float_value, int_value, key_dtype, sort_key

__all__ = ["radix_sort_func", "DIGIT_BITS", "NARROW_DIGITS", "MIN_CHUNK", "MAX_CHUNKS", "PREFETCH_BYTES"]

#: The bits a pass sorts by, by the row's length: (longest row, bits), the first that fits;
#: longer rows DIGIT_BITS. Long rows take 11 bits, 2048 buckets (3 passes for 4-byte keys):
#: with the prefetch below, 3 passes of 11 bits sorted 2^22 float32 values 12% faster than 4 of
#: 8 (one thread, an AVX-512 Intel host). Shorter rows take bytes, 1/8 the histogram to clear and
#: sum each pass (narrower digits, more passes, measured slower for rows of 64 and 1000); rows of
#: a few elements 4 bits, where the buckets are all the work (and the reference interpreter steps
#: through each: a 9-element row of int64 took 0.5 s with bytes, 0.08 s with 4 bits).
NARROW_DIGITS = ((16, 4), (1 << 16, 8))
DIGIT_BITS = 11

#: How far ahead of a bucket's next slot the scatter asks for the cache line it will write:
#: each bucket is a write stream of its own, far more than the hardware prefetchers follow, and
#: without the hint every new line of every bucket waited on memory (a pass took twice as long).
PREFETCH_BYTES = 128

#: A row of n elements is counted and scattered in min(MAX_CHUNKS, n // MIN_CHUNK) parallel
#: chunks (enough for the threads of a large machine); shorter rows in one.
MIN_CHUNK, MAX_CHUNKS = 1 << 16, 16

_ZERO, _ONE = const(0, "int32"), const(1, "int32")


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
    def digit_bits(self) -> int:
        return next((bits for longest, bits in NARROW_DIGITS if self.n <= longest), DIGIT_BITS)

    @property
    def radix(self) -> int:
        return 1 << self.digit_bits

    @property
    def passes(self) -> int:
        return -(-dt.bits(self.key_dtype) // self.digit_bits)

    @property
    def chunks(self) -> int:
        return max(1, min(MAX_CHUNKS, self.n // MIN_CHUNK))

    @property
    def half(self) -> int:
        """The length of each half of the scratch buffers (at least 1)."""
        return max(self.n, 1)

    @property
    def repairs(self) -> bool:
        """Whether the row is repaired after its store (a float ``sort``, see above)."""
        return not self.indices and dt.is_float(self.dtype)

    def chunk(self, t: PrimExpr) -> tuple[PrimExpr, PrimExpr]:
        """(first element, length) of chunk ``t``: the first ``n % chunks`` chunks one longer."""
        base, rem = divmod(self.n, self.chunks)
        start = t * _i(base) + _e_min(t, _i(rem))
        return start, _i(base) + cast(t < _i(rem), dt.INDEX) if rem else _i(base)

    def key(self, x: PrimExpr) -> PrimExpr:
        return sort_key(x, self.descending)

    def value(self, key: PrimExpr) -> PrimExpr:
        """The value whose key is ``key`` (one of them for a NaN's or a zero's key)."""
        if dt.is_float(self.dtype):
            return float_value(key, self.dtype, self.descending)
        return int_value(key, self.dtype, self.descending)


@dataclass(frozen=True)
class _Scratch:
    """The two halves of the scratch buffers: ``keys`` and, for ``argsort``, ``where`` (the
    positions); ``cur`` holds which half the keys are in."""
    plan: _Plan
    keys: Buffer
    where: Buffer | None
    cur: Scalar

    def at(self, half: PrimExpr, i: PrimExpr) -> PrimExpr:
        return half * _i(self.plan.half) + i

    def read(self, half: PrimExpr, i: PrimExpr) -> tuple[PrimExpr, PrimExpr | None]:
        """(key, position or None) of element ``i`` of ``half``."""
        return self.keys[self.at(half, i)], None if self.where is None else self.where[self.at(half, i)]

    def write(self, half: PrimExpr, i: PrimExpr, key: PrimExpr, position: PrimExpr | None) -> Stmt:
        at = (self.at(half, i),)
        positions = None if self.where is None else BufferStore(self.where, position, at)
        return seq(BufferStore(self.keys, key, at), positions)

    def prefetch(self, half: PrimExpr, slot: PrimExpr) -> Stmt | None:
        """Ask for the cache lines ``PREFETCH_BYTES`` after ``slot`` of ``half``, to be written
        (a long row's: a short one stays in the caches)."""
        if self.plan.n < MIN_CHUNK:
            return None
        def ahead(buffer):
            step = max(1, PREFETCH_BYTES * 8 // dt.bits(buffer.dtype))
            element = buffer[self.at(half, _e_min(slot + _i(step), _i(self.plan.half - 1)))]
            return Evaluate(call_extern("int32", PREFETCH_FOR_WRITE, address_of(element)))
        return seq(*(ahead(b) for b in (self.keys, self.where) if b is not None))


def _digit(plan: _Plan, key: PrimExpr, p: PrimExpr) -> PrimExpr:
    """Pass ``p``'s digit of ``key``."""
    shift = cast(p * _i(plan.digit_bits), key.dtype)
    return cast((key >> shift) & const(plan.radix - 1, key.dtype), dt.INDEX)


def _over_chunks(plan: _Plan, prologue, body) -> For:
    """For each chunk ``t``, in parallel (when several): ``prologue(t)``, then ``body(i, t)`` for
    its elements."""
    t, j = Var("t", dt.INDEX), Var("j", dt.INDEX)
    start, length = plan.chunk(t)
    elements = For(j, _i(0), length, "serial", body(start + j, t))
    # one chunk: a serial loop, no launch (a row's passes launch two loops each: rows of 64
    # elements took three times as long), and the rows' batch loop stays free to run in parallel
    kind = "parallel" if plan.chunks > 1 else "serial"
    return For(t, _i(0), _i(plan.chunks), kind, seq(prologue(t), elements))


def _tally(plan: _Plan, hist: Buffer, t: PrimExpr, digit: PrimExpr) -> Stmt:
    at = t * _i(plan.radix) + digit
    return BufferStore(hist, hist[at] + _ONE, (at,))


def _zero(plan: _Plan, hist: Buffer, t: PrimExpr) -> Stmt:
    return loop("d", 0, plan.radix, lambda d: BufferStore(hist, _ZERO, (t * _i(plan.radix) + d,)))


def _count(plan: _Plan, s: _Scratch, hist: Buffer, p: PrimExpr, x, note=None) -> For:
    """Each chunk's histogram of the digits of pass ``p`` of the keys in the current half. The
    first pass reads the keys from the input instead, and stores them (and their positions) in
    half 0; ``note(i, t)``: more stores it makes for an element."""
    def body(i, t):
        key = plan.key(x(i))
        load = seq(s.write(_i(0), i, key, cast(i, "int64") if plan.indices else None),
                   _tally(plan, hist, t, _digit(plan, key, _i(0))), note(i, t) if note else None)
        again = _tally(plan, hist, t, _digit(plan, s.read(s.cur.get(), i)[0], p))
        return when(p == _i(0), load, again)
    return _over_chunks(plan, lambda t: _zero(plan, hist, t), body)


def _alike(plan: _Plan, s: _Scratch, hist: Buffer, acc: Scalar, alike: Scalar, p: PrimExpr) -> Stmt:
    """``alike`` = whether pass ``p``'s digit is one for the whole row: whether the first
    element's digit counts all n (over every chunk)."""
    first = _digit(plan, s.read(s.cur.get(), _i(0))[0], p)
    return seq(acc.set(0), _each_chunk(plan, lambda t: acc.set(acc.get() + hist[t * _i(plan.radix) + first])),
               alike.set(cast(acc.get() == const(plan.n, "int32"), "int32")))


def _starts(plan: _Plan, hist: Buffer, acc: Scalar) -> Stmt:
    """The counts to bucket starts, digit by digit and chunk by chunk within a digit."""
    def chunk(d, t):
        at = t * _i(plan.radix) + d
        return seq(acc.set(acc.get() + hist[at]), BufferStore(hist, acc.get() - hist[at], (at,)))
    return seq(acc.set(0), loop("d", 0, plan.radix, lambda d: _each_chunk(plan, lambda t: chunk(d, t))))


def _each_chunk(plan: _Plan, body) -> Stmt:
    """``body(t)`` for each chunk ``t`` in order (no loop for one chunk)."""
    return body(_i(0)) if plan.chunks == 1 else loop("t", 0, plan.chunks, body)


def _scatter(plan: _Plan, s: _Scratch, hist: Buffer, p: PrimExpr) -> For:
    """Each chunk's elements, in order, from the current half to their bucket's next slot in
    the other."""
    here, there = s.cur.get(), _i(1) - s.cur.get()

    def body(i, t):
        key, position = s.read(here, i)
        at = t * _i(plan.radix) + _digit(plan, key, p)
        slot = cast(hist[at], dt.INDEX)
        return seq(s.write(there, slot, key, position), BufferStore(hist, hist[at] + _ONE, (at,)),
                   s.prefetch(there, slot))
    return _over_chunks(plan, lambda t: None, body)


def _store(plan: _Plan, s: _Scratch, out) -> For:
    """The sorted values (decoded from their keys) or positions into the output."""
    def body(i, t):
        key, position = s.read(s.cur.get(), i)
        return BufferStore(out.buffer, position if plan.indices else plan.value(key), out.index(i))
    return _over_chunks(plan, lambda t: None, body)


def _repair_floats(plan: _Plan, x, out, counts: Buffer) -> Stmt:
    """NaNs and zeros as NumPy's stable sort leaves them. Their keys tie (every NaN one key, both
    zeros one key), so the sort put them in the right blocks (the NaNs last, first descending)
    but decoded each block as one value; one read of ``x`` counts the NaNs and the numbers
    before the zeros, a second writes the NaNs and zeros, in input order, into their blocks."""
    nans, before = counts[_i(0)], counts[_i(1)]

    def set_(k, value):
        return BufferStore(counts, value, (_i(k),))

    def tally(i):
        v, zero = x(i), const(0, plan.dtype)
        return seq(set_(0, nans + cast(isnan(v), "int32")),
                   set_(1, before + cast(v > zero if plan.descending else v < zero, "int32")))

    def place(i):
        def put(k):  # x[i] at the slot counts[k] names, which moves on
            return seq(BufferStore(out.buffer, x(i), out.index(cast(counts[_i(k)], dt.INDEX))),
                       set_(k, counts[_i(k)] + _ONE))
        return when(isnan(x(i)), put(2), when(x(i) == const(0, plan.dtype), put(3)))
    nan_at = _ZERO if plan.descending else const(plan.n, "int32") - nans
    zero_at = nans + before if plan.descending else before
    return seq(set_(0, _ZERO), set_(1, _ZERO), loop("i", 0, plan.n, tally), set_(2, nan_at), set_(3, zero_at),
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
    X = decl_buffer(x.shape, x.dtype, "x")
    OUT = decl_buffer(x.shape, "int64" if indices else x.dtype, "out")
    s = _Scratch(plan, decl_buffer((2 * plan.half,), plan.key_dtype, "keys"),
                 decl_buffer((2 * plan.half,), "int64", "where") if indices else None, Scalar("cur", dt.INDEX))
    hist = decl_buffer((plan.chunks * plan.radix,), "int32", "hist")
    acc, alike = Scalar("acc", "int32"), Scalar("alike", "int32")
    special = decl_buffer((plan.chunks,), "int32", "special")  # a chunk's NaN or -0.0 (float sort)
    counts = decl_buffer((4,), "int32", "counts")  # _repair_floats's

    def row(r):
        xs, out = _RowView(X, r), _RowView(OUT, r)

        def note(i, t):
            v = xs(i)
            odd = isnan(v) | (reinterpret(v, plan.key_dtype) == const(1 << (dt.bits(plan.key_dtype) - 1),
                                                                      plan.key_dtype))
            return BufferStore(special, special[t] | cast(odd, "int32"), (t,))

        def one_pass(p):
            move = seq(_scatter(plan, s, hist, p), s.cur.set(_i(1) - s.cur.get()))
            return seq(_count(plan, s, hist, p, xs, note if plan.repairs else None),
                       _alike(plan, s, hist, acc, alike, p),
                       when(alike.get() == _ZERO, seq(_starts(plan, hist, acc), move)))
        sort = seq(s.cur.set(0), loop("p", 0, plan.passes, one_pass), _store(plan, s, out))
        if not plan.repairs:
            return sort
        clear = loop("t", 0, plan.chunks, lambda t: BufferStore(special, _ZERO, (t,)))
        flagged = seq(acc.set(0), loop("t", 0, plan.chunks, lambda t: acc.set(acc.get() | special[t])))
        return seq(clear, sort, flagged, when(acc.get() != _ZERO, _repair_floats(plan, xs, out, counts)))

    allocs = (s.keys, hist, acc.buffer, alike.buffer, s.cur.buffer) + ((s.where,) if indices else ()) + \
        ((special, counts) if plan.repairs else ())
    return hand_written_func((X, OUT), batched(x.shape[:-1], row, "r") if plan.n else seq(), allocs)
