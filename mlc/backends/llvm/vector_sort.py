"""A vectorised quicksort of 4-byte values, in LLVM IR: the CPU ``sort`` kernel on AVX-512.

``mlc_vsort_<codec>(src, out, flag, n)`` sorts the ``n`` values at ``src`` into ``out`` (no
scratch memory: the sort is in place after its first pass). Each value is read as a signed
int32 key whose order is the sort order (the codec: a float's bits with a negative's
magnitude bits flipped and every NaN the largest key, an unsigned int's top bit flipped,
each key complemented when descending), and decoded as it is stored. The sort is a quicksort whose partitions move 16
keys at a time: a compare against the pivot gives a lane mask, and the keys below the pivot
are packed to the front of a vector (``llvm.experimental.vector.compress``, one
``vpcompressd`` on AVX-512) and stored, as many as there are, at the front of the part, the
rest likewise at its back. The first partition reads the values and writes keys into
``out``; every later one partitions a part of ``out`` in place (the first and last 64 keys
held in registers make room: :func:`_define_partition_in_place`), and a part of at most
``LEAF`` keys is sorted in registers by a bitonic network (min, max and lane shuffles of up
to eight 16-lane vectors) and stored back decoded. The pivot is the median of up to 64 keys
sampled across the part (sorted by the same network); a part whose pivot is its least key is
split by ``<=`` instead of ``<``, its block of equal keys done at once (so equal keys cost no
extra depth). The smaller part is sorted by a recursive call, the larger by the loop: the
recursion is at most log2(n) deep. Pivots that keep landing near a part's end (an input
built against the sampling) would make the sort quadratic: past 2 floor(log2 n) partitions a
part is heapsorted instead (O(n log n) whatever the keys), and the kernel returns 1 (else 0;
callers ignore it). ``flag[0]`` is set to 1 when a float row holds a NaN or a -0.0 (which the
caller repairs: their keys lose a NaN's payload and order -0.0 before 0.0), else 0.

``mlc_vsort_half_<codec>(src, out, flag, n, part)`` is one of two halves of the
work, which two threads run at once: each samples the same pivot, reads every value and
keeps the keys of its side of the pivot (:func:`define_half`), and sorts them.

Without AVX-512 (AVX2) LLVM writes the compress out lane by lane: correct, slow, so the op
uses this kernel only on AVX-512 targets (:mod:`mlc.ops.library.vector_sort`).
"""
from __future__ import annotations

from llvmlite import ir

from .intrinsics import call_intrinsic, declare
from .parallel import openmp_available as _openmp_available
from .vectorize import splat

__all__ = ["LEAF", "CODECS", "define_sort", "define_half"]

_I1, _I16, _I32, _I64 = ir.IntType(1), ir.IntType(16), ir.IntType(32), ir.IntType(64)
_PTR = ir.PointerType()
_LANES = 16
_V = ir.VectorType(_I32, _LANES)
_M = ir.VectorType(_I1, _LANES)
#: The longest part the bitonic network sorts (8 vectors); longer ones are partitioned.
LEAF = 8 * _LANES
#: Vectors the in-place partition reads at once.
_UNROLL = 4
assert LEAF >= 2 * _UNROLL * _LANES, "the in-place partition holds a block at each end of a part"
#: Samples for a part's pivot: 16 for parts up to SMALL_PART, else 64.
SMALL_PART = 1024
_MAX_KEY = 0x7FFFFFFF
_MIN_KEY = -0x80000000
#: The codecs, by name: (dtype, descending).
CODECS = {f"{short}{'_desc' if desc else ''}": (dtype, desc)
          for short, dtype in (("f32", "float32"), ("i32", "int32"), ("u32", "uint32")) for desc in (False, True)}


def _mask_const(bits):
    return ir.Constant(_M, [ir.Constant(_I1, int(b)) for b in bits])


def _prefix_mask(b, count):
    """The lanes below ``count`` (an i32 of 0..16)."""
    bits = b.sub(b.shl(ir.Constant(_I32, 1), count), ir.Constant(_I32, 1))
    return b.bitcast(b.trunc(bits, _I16), _M)


def _lanes_from(b, count, start: int):
    """The lanes of the vector of elements ``start`` to ``start + 15`` that are below ``count``
    (an i32)."""
    left = b.sub(count, ir.Constant(_I32, start))
    left = b.select(b.icmp_signed("<", left, ir.Constant(_I32, 0)), ir.Constant(_I32, 0), left)
    left = b.select(b.icmp_signed(">", left, ir.Constant(_I32, _LANES)), ir.Constant(_I32, _LANES), left)
    return _prefix_mask(b, left)


def _masked_load(b, ptr, mask, fill):
    fn = declare(b.module, "llvm.masked.load.v16i32.p0", ir.FunctionType(_V, [_PTR, _I32, _M, _V]))
    return b.call(fn, [ptr, ir.Constant(_I32, 4), mask, fill])


def _masked_store(b, value, ptr, mask):
    fn = declare(b.module, "llvm.masked.store.v16i32.p0", ir.FunctionType(ir.VoidType(), [_V, _PTR, _I32, _M]))
    b.call(fn, [value, ptr, ir.Constant(_I32, 4), mask])


def _compress(b, value, mask):
    fn = declare(b.module, "llvm.experimental.vector.compress.v16i32", ir.FunctionType(_V, [_V, _M, _V]))
    return b.call(fn, [value, mask, ir.Constant(_V, None)])


def _popcount(b, mask):
    return b.zext(call_intrinsic(b, "ctpop", b.bitcast(mask, _I16)), _I32)


def _at(b, ptr, index):
    return b.gep(ptr, [index], source_etype=_I32)


def _bitonic(b, regs):
    """``regs`` (1, 2 or 4 vectors: element ``16 r + lane``) sorted ascending by a bitonic network."""
    regs = list(regs)
    total = _LANES * len(regs)
    k = 2
    while k <= total:
        j = k // 2
        while j >= 1:
            if j >= _LANES:  # partners in other registers, same lane
                step = j // _LANES
                for r in range(len(regs)):
                    p = r ^ step
                    if p < r:
                        continue
                    lo, hi = call_intrinsic(b, "smin", regs[r], regs[p]), call_intrinsic(b, "smax", regs[r], regs[p])
                    ascending = (r * _LANES) & k == 0
                    regs[r], regs[p] = (lo, hi) if ascending else (hi, lo)
            else:
                perm = ir.Constant(_V, [ir.Constant(_I32, lane ^ j) for lane in range(_LANES)])
                for r in range(len(regs)):
                    other = b.shuffle_vector(regs[r], ir.Constant(_V, None), perm)
                    lo, hi = call_intrinsic(b, "smin", regs[r], other), call_intrinsic(b, "smax", regs[r], other)
                    take_lo = [((e & j) == 0) == ((e & k) == 0) for e in (r * _LANES + lane for lane in range(_LANES))]
                    regs[r] = b.select(_mask_const(take_lo), lo, hi)
            j //= 2
        k *= 2
    return regs


def _const(ty, value):
    """``value`` as an i32 constant of ``ty`` (i32, or a splat of a vector of them)."""
    if isinstance(ty, ir.VectorType):
        return ir.Constant(ty, [ir.Constant(_I32, value)] * ty.count)
    return ir.Constant(ty, value)


def _flip(b, bits):
    """A negative int32's low 31 bits flipped (its own inverse): float bits to ordered keys."""
    sign = b.ashr(bits, _const(bits.type, 31))
    return b.xor(bits, b.and_(sign, _const(bits.type, _MAX_KEY)))


def _encode(b, codec, bits):
    """The keys of values read as int32 ``bits`` (a scalar or a vector)."""
    dtype, desc = CODECS[codec]
    ty = bits.type
    if dtype == "float32":
        magnitude = b.and_(bits, _const(ty, _MAX_KEY))
        nan = b.icmp_signed(">", magnitude, _const(ty, 0x7F800000))
        key = b.select(nan, _const(ty, _MAX_KEY), _flip(b, bits))
    elif dtype == "uint32":
        key = b.xor(bits, _const(ty, _MIN_KEY))
    else:
        key = bits
    return b.not_(key) if desc else key


def _decode(b, codec, key):
    """The int32 bits of the values of ``key`` (a NaN's key: one NaN)."""
    dtype, desc = CODECS[codec]
    key = b.not_(key) if desc else key
    if dtype == "float32":
        return _flip(b, key)
    if dtype == "uint32":
        return b.xor(key, _const(key.type, _MIN_KEY))
    return key


def _odd(b, codec, bits):
    """The lanes of ``bits`` holding a NaN or -0.0 (a float codec's; None for ints)."""
    if CODECS[codec][0] != "float32":
        return None
    nan = b.icmp_signed(">", b.and_(bits, _const(_V, _MAX_KEY)), _const(_V, 0x7F800000))
    return b.or_(nan, b.icmp_signed("==", bits, _const(_V, _MIN_KEY)))


def _internal(module, name, ret, args):
    fn = ir.Function(module, ir.FunctionType(ret, args), name=name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    return fn


def _loop(b, name, count, body):
    """``body(b, k)`` for k in range(count) (an i64), in blocks of its own."""
    fn = b.function
    head, inner, after = (fn.append_basic_block(f"{name}{s}") for s in ("", "_body", "_done"))
    pre = b.block
    b.branch(head)
    b.position_at_end(head)
    k = b.phi(_I64)
    k.add_incoming(ir.Constant(_I64, 0), pre)
    b.cbranch(b.icmp_signed("<", k, count), inner, after)
    b.position_at_end(inner)
    body(b, k)
    k.add_incoming(b.add(k, ir.Constant(_I64, 1)), b.block)
    b.branch(head)
    b.position_at_end(after)


def _define_network(module, codec):
    """``net(src, dst, m, decode)``: the ``m`` <= LEAF keys at ``src`` sorted into ``dst`` (may be
    ``src``), decoded with ``decode``."""
    fn = _internal(module, f"mlc_vsort_net_{codec}", ir.VoidType(), [_PTR, _PTR, _I64, _I1])
    fn.attributes.add("noinline")  # (one copy: the leaves' and the pivots')
    src, dst, m, decode = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    m32 = b.trunc(m, _I32)
    sizes = tuple(1 << k for k in range((LEAF // _LANES).bit_length()))
    blocks = [fn.append_basic_block(f"net{count}") for count in sizes]
    for count, block in zip(sizes, blocks):
        with b.goto_block(block):
            masks, regs = [], []
            for r in range(count):
                masks.append(_lanes_from(b, m32, r * _LANES))
                regs.append(_masked_load(b, _at(b, src, ir.Constant(_I64, r * _LANES)), masks[r], _const(_V, _MAX_KEY)))
            for r, v in enumerate(_bitonic(b, regs)):
                v = b.select(decode, _decode(b, codec, v), v)
                _masked_store(b, v, _at(b, dst, ir.Constant(_I64, r * _LANES)), masks[r])
            b.ret_void()
    if len(sizes) == 1:
        b.branch(blocks[0])
    for count, block, after in zip(sizes, blocks, blocks[1:]):
        if count == sizes[-2]:
            b.cbranch(b.icmp_signed("<=", m, ir.Constant(_I64, count * _LANES)), block, after)
            break
        nxt = fn.append_basic_block(f"over{count}")
        b.cbranch(b.icmp_signed("<=", m, ir.Constant(_I64, count * _LANES)), block, nxt)
        b.position_at_end(nxt)
    return fn


def _define_partition(module, codec, encode, side="both"):
    """``partition(src, dst, n, pivot, or_equal, flag) -> i64``: the ``n`` keys of ``src`` below
    ``pivot`` (or equal to it, with ``or_equal``) packed to the front of ``dst``, the others to
    its back; returns how many went to the front. ``side`` "front" or "back": only those
    keys are stored (the back's packed at the end of ``dst[:n]``), and their number returned. ``encode``: ``src`` holds values, encoded as
    they are read, and ``flag[0]`` is set to whether a NaN or -0.0 was among them (else
    ``flag`` is unused)."""
    name = (f"mlc_vsort_partition_{codec}" if encode else "mlc_vsort_partition") + ("" if side == "both" else "_" + side)
    fn = _internal(module, name, _I64, [_PTR, _PTR, _I64, _I32, _I1, _PTR])
    src, dst, n, pivot, or_equal, flag = fn.args
    entry, loop, tail = (fn.append_basic_block(s) for s in ("entry", "loop", "tail"))
    b = ir.IRBuilder(entry)
    pv = splat(b, pivot, _LANES)
    whole = b.and_(n, ir.Constant(_I64, -_LANES))
    b.branch(loop)

    def step(b, i, lo, hi, odd, valid):
        """Partition the keys at src[i:i+16] (those of ``valid`` lanes, None: all)."""
        v = (b.load(_at(b, src, i), typ=_V, align=4) if valid is None
             else _masked_load(b, _at(b, src, i), valid, _const(_V, 0)))
        if encode:
            seen = _odd(b, codec, v)
            if seen is not None:
                odd = b.or_(odd, seen if valid is None else b.and_(seen, valid))
            v = _encode(b, codec, v)
        below = b.select(or_equal, b.icmp_signed("<=", v, pv), b.icmp_signed("<", v, pv))
        above = b.not_(below) if valid is None else b.and_(b.not_(below), valid)
        if valid is not None:
            below = b.and_(below, valid)
        if side != "back":
            nb = _popcount(b, below)
            _masked_store(b, _compress(b, v, below), _at(b, dst, lo), _prefix_mask(b, nb))
            lo = b.add(lo, b.zext(nb, _I64))
        if side != "front":
            na = _popcount(b, above)
            hi = b.sub(hi, b.zext(na, _I64))
            _masked_store(b, _compress(b, v, above), _at(b, dst, hi), _prefix_mask(b, na))
        return lo, hi, odd

    b.position_at_end(loop)
    i, lo, hi, odd = b.phi(_I64), b.phi(_I64), b.phi(_I64), b.phi(_M)
    for phi, start in zip((i, lo, hi, odd), (ir.Constant(_I64, 0), ir.Constant(_I64, 0), n, _mask_const([0] * _LANES))):
        phi.add_incoming(start, entry)
    body = fn.append_basic_block("body")
    b.cbranch(b.icmp_signed("<", i, whole), body, tail)
    b.position_at_end(body)
    lo2, hi2, odd2 = step(b, i, lo, hi, odd, None)
    for phi, value in zip((i, lo, hi, odd), (b.add(i, ir.Constant(_I64, _LANES)), lo2, hi2, odd2)):
        phi.add_incoming(value, body)
    b.branch(loop)
    b.position_at_end(tail)
    rest = b.trunc(b.sub(n, whole), _I32)
    lo3, hi3, odd3 = step(b, i, lo, hi, odd, _prefix_mask(b, rest))
    if encode:
        seen = b.icmp_unsigned("!=", b.bitcast(odd3, _I16), ir.Constant(_I16, 0))
        b.store(b.zext(seen, _I32), flag)
    b.ret(b.sub(n, hi3) if side == "back" else lo3)
    return fn


def _define_partition_in_place(module):
    """``partition(a, n, pivot, or_equal) -> i64`` (n >= 128): the ``n`` keys at ``a`` below
    ``pivot`` (or equal to it, with ``or_equal``) moved to its front, the others to its back, in
    place; returns how many are in front. The first and last block of 64 keys (_UNROLL vectors)
    are kept in registers, which leaves 128 free places between the front written so far and the
    back; each step reads the next 64 keys from the side with fewer free places (so at least 64
    are free on each side after the read: which side is the one choice that waits for the last
    step's counts, once a block) and stores each 16's two sides, packed, at the front's end (a whole vector: the
    lanes past the front land in free places, written over later) and before the back's start
    (the lanes of the back only); the 128 kept are stored last, into the 128 places left."""
    fn = _internal(module, "mlc_vsort_partition_in_place", _I64, [_PTR, _I64, _I32, _I1])
    a, n, pivot, or_equal = fn.args
    entry, loop, body, done = (fn.append_basic_block(s) for s in ("entry", "loop", "body", "done"))
    b = ir.IRBuilder(entry)
    pv = splat(b, pivot, _LANES)

    def put(b, v, lo, hi, valid):
        """``v``'s keys (of ``valid`` lanes: None, all) stored at ``a[lo:]`` (below) and before
        ``a[hi]`` (the others): the new (lo, hi)."""
        below = b.select(or_equal, b.icmp_signed("<=", v, pv), b.icmp_signed("<", v, pv))
        above = b.not_(below)
        if valid is not None:
            below, above = b.and_(below, valid), b.and_(above, valid)
        nb, na = _popcount(b, below), _popcount(b, above)
        # all 16 lanes: 16 places past the front's end are free (keys read, or the 32 held),
        # and the last ones are stored before the back's
        b.store(_compress(b, v, below), _at(b, a, lo), align=4)
        hi = b.sub(hi, b.zext(na, _I64))
        _masked_store(b, _compress(b, v, above), _at(b, a, hi), _prefix_mask(b, na))
        return b.add(lo, b.zext(nb, _I64)), hi

    block = ir.Constant(_I64, _UNROLL * _LANES)
    held = [b.load(_at(b, a, ir.Constant(_I64, j * _LANES)), typ=_V, align=4) for j in range(_UNROLL)]
    held += [b.load(_at(b, a, b.sub(n, ir.Constant(_I64, (j + 1) * _LANES))), typ=_V, align=4) for j in range(_UNROLL)]
    # the keys between, past a multiple of a block of them: read (from the front) first
    rest = b.trunc(b.and_(b.sub(n, b.add(block, block)), ir.Constant(_I64, _UNROLL * _LANES - 1)), _I32)
    lo, hi = ir.Constant(_I64, 0), n
    for j in range(_UNROLL):
        valid = _lanes_from(b, rest, j * _LANES)
        v = _masked_load(b, _at(b, a, ir.Constant(_I64, (_UNROLL + j) * _LANES)), valid, _const(_V, 0))
        lo, hi = put(b, v, lo, hi, valid)
    read_lo = b.add(block, b.zext(rest, _I64))
    read_hi = b.sub(n, block)
    pre = b.block
    b.branch(loop)
    b.position_at_end(loop)
    phis = [b.phi(_I64) for _ in range(4)]
    for phi, start in zip(phis, (lo, hi, read_lo, read_hi)):
        phi.add_incoming(start, pre)
    lo, hi, read_lo, read_hi = phis
    b.cbranch(b.icmp_signed("<", read_lo, read_hi), body, done)
    b.position_at_end(body)
    from_front = b.icmp_signed("<=", b.sub(read_lo, lo), b.sub(hi, read_hi))
    at = b.select(from_front, read_lo, b.sub(read_hi, block))
    vs = [b.load(_at(b, a, b.add(at, ir.Constant(_I64, j * _LANES))), typ=_V, align=4) for j in range(_UNROLL)]
    read_lo2 = b.select(from_front, b.add(read_lo, block), read_lo)
    read_hi2 = b.select(from_front, read_hi, at)
    lo2, hi2 = lo, hi
    for v in vs:
        lo2, hi2 = put(b, v, lo2, hi2, None)
    for phi, value in zip(phis, (lo2, hi2, read_lo2, read_hi2)):
        phi.add_incoming(value, b.block)
    b.branch(loop)
    b.position_at_end(done)
    for v in held:
        lo, hi = put(b, v, lo, hi, None)
    b.ret(lo)
    return fn


def _pivot(b, codec, src, n, scratch, encode):
    """The median of keys sampled across ``src[:n]``, one in each of 16 (n <= SMALL_PART) or 64
    equal slots, sorted in ``scratch`` (LEAF keys of stack); ``encode``: ``src`` holds values."""
    net = b.module.globals[f"mlc_vsort_net_{codec}"]
    count = b.select(b.icmp_signed("<=", n, ir.Constant(_I64, SMALL_PART)), ir.Constant(_I64, _LANES),
                     ir.Constant(_I64, 4 * _LANES))
    stride = b.sdiv(n, count)

    def sample(b, k):
        # the k-th slot of ``stride`` keys, at a place within it hashed from k: evenly spaced
        # samples of periodic keys (i * 64 % n) would all be one value, and every part split
        # off its least keys only (quadratic)
        # (a 32-bit hash scaled to the slot by a multiply, not a division: 16 divisions cost a
        # 256-key part as much as its partition)
        jitter = b.lshr(b.mul(b.lshr(b.mul(k, ir.Constant(_I64, 0x9E3779B97F4A7C15 - (1 << 64))), ir.Constant(_I64, 32)),
                              stride), ir.Constant(_I64, 32))
        v = b.load(_at(b, src, b.add(b.mul(k, stride), jitter)), typ=_I32)
        b.store(_encode(b, codec, v) if encode else v, _at(b, scratch, k))
    _loop(b, "sample", count, sample)
    b.call(net, [scratch, scratch, count, ir.Constant(_I1, 0)])
    return b.load(_at(b, scratch, b.sdiv(count, ir.Constant(_I64, 2))), typ=_I32)


def _split(b, codec, src, dst, n, flag, encode, samples):
    """``src[:n]`` partitioned into ``dst`` by a pivot sampled into ``samples`` (LEAF int32 of
    stack), by ``<=`` where it is the least key: (the front's length, the pivot, whether the
    front is the keys equal to the pivot)."""
    partition = b.module.globals[f"mlc_vsort_partition_{codec}" if encode else "mlc_vsort_partition"]
    pivot = _pivot(b, codec, src, n, samples, encode)
    return _split_by(b, pivot, lambda equal: b.call(partition, [src, dst, n, pivot, equal, flag]))


def _split_in_place(b, codec, a, n, samples):
    """``a[:n]`` partitioned in place by a pivot sampled into ``samples``, by ``<=`` where it is
    the least key: (the front's length, the pivot, whether the front is the keys equal to it)."""
    partition = b.module.globals["mlc_vsort_partition_in_place"]
    pivot = _pivot(b, codec, a, n, samples, False)
    return _split_by(b, pivot, lambda equal: b.call(partition, [a, n, pivot, equal]))


def _split_by(b, pivot, partition):
    """Call ``partition(equal)`` by ``<`` (``equal`` false); where nothing is below the pivot
    (it is the least key), again by ``<=``: (the front's length, the pivot, whether the front
    is the keys equal to it)."""
    fn = b.function
    lower = partition(ir.Constant(_I1, 0))
    least, done = fn.append_basic_block("least"), fn.append_basic_block("split")
    pre = b.block
    b.cbranch(b.icmp_signed("==", lower, ir.Constant(_I64, 0)), least, done)
    b.position_at_end(least)
    equal = partition(ir.Constant(_I1, 1))
    b.branch(done)
    b.position_at_end(done)
    front = b.phi(_I64)
    front.add_incoming(lower, pre)
    front.add_incoming(equal, least)
    all_equal = b.phi(_I1)
    all_equal.add_incoming(ir.Constant(_I1, 0), pre)
    all_equal.add_incoming(ir.Constant(_I1, 1), least)
    return front, pivot, all_equal


def _fill(b, codec, out, count, pivot):
    """``out[:count]`` = the value of key ``pivot``."""
    value = _decode(b, codec, pivot)
    _loop(b, "fill", count, lambda b, k: b.store(value, _at(b, out, k)))


def _define_heap(module):
    """``heap(a, n)``: the ``n`` keys at ``a`` sorted in place by heapsort (O(n log n) whatever
    the keys: the recursion's fallback past its depth limit)."""
    sift = _internal(module, "mlc_vsort_sift", ir.VoidType(), [_PTR, _I64, _I64])
    a, start, end = sift.args
    entry, loop, body, swap, done = (sift.append_basic_block(s) for s in ("entry", "loop", "body", "swap", "done"))
    b = ir.IRBuilder(entry)
    b.branch(loop)
    b.position_at_end(loop)
    root = b.phi(_I64)
    root.add_incoming(start, entry)
    child = b.add(b.mul(root, ir.Constant(_I64, 2)), ir.Constant(_I64, 1))
    b.cbranch(b.icmp_signed("<", child, end), body, done)
    b.position_at_end(body)
    right = b.add(child, ir.Constant(_I64, 1))
    left_key = b.load(_at(b, a, child), typ=_I32)
    right_key = b.load(_at(b, a, b.select(b.icmp_signed("<", right, end), right, child)), typ=_I32)
    take_right = b.and_(b.icmp_signed("<", right, end), b.icmp_signed("<", left_key, right_key))
    big = b.select(take_right, right, child)
    big_key = b.select(take_right, right_key, left_key)
    root_key = b.load(_at(b, a, root), typ=_I32)
    b.cbranch(b.icmp_signed("<", root_key, big_key), swap, done)
    b.position_at_end(swap)
    b.store(big_key, _at(b, a, root))
    b.store(root_key, _at(b, a, big))
    root.add_incoming(big, swap)
    b.branch(loop)
    b.position_at_end(done)
    b.ret_void()

    fn = _internal(module, "mlc_vsort_heap", ir.VoidType(), [_PTR, _I64])
    a, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    half = b.sdiv(n, ir.Constant(_I64, 2))
    _loop(b, "heapify", half, lambda b, k: b.call(sift, [a, b.sub(b.sub(half, ir.Constant(_I64, 1)), k), n]))

    def pop(b, k):
        last = b.sub(b.sub(n, ir.Constant(_I64, 1)), k)
        top, end_key = b.load(a, typ=_I32), b.load(_at(b, a, last), typ=_I32)
        b.store(end_key, a)
        b.store(top, _at(b, a, last))
        b.call(sift, [a, ir.Constant(_I64, 0), last])
    _loop(b, "pop", b.sub(n, ir.Constant(_I64, 1)), pop)
    b.ret_void()
    return fn


def _depth_limit(b, n):
    """The levels of partitions a sort of ``n`` keys may take before its parts are heapsorted:
    2 floor(log2 n) (a quicksort whose pivots split well takes about log2(n / LEAF))."""
    ctlz = call_intrinsic(b, "ctlz", n, ir.Constant(_I1, 0))
    return b.mul(b.sub(ir.Constant(_I64, 63), ctlz), ir.Constant(_I64, 2))


def _define_recursive(module, codec):
    """``rec(a, n, depth, note)``: the ``n`` keys at ``a`` sorted, decoded, in place. A part
    still longer than a leaf after ``depth`` more partitions (pivots that keep splitting off a
    few keys: a quadratic quicksort) is heapsorted instead, and ``note[0]`` set to 1."""
    fn = _internal(module, f"mlc_vsort_rec_{codec}", ir.VoidType(), [_PTR, _I64, _I64, _PTR])
    net = module.globals[f"mlc_vsort_net_{codec}"]
    heap = module.globals.get("mlc_vsort_heap") or _define_heap(module)
    if "mlc_vsort_partition_in_place" not in module.globals:
        _define_partition_in_place(module)
    note = fn.args[3]
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(entry)
    samples = b.alloca(_I32, LEAF)
    loop = fn.append_basic_block("loop")
    b.branch(loop)
    b.position_at_end(loop)
    a, n, depth = (b.phi(t) for t in (_PTR, _I64, _I64))
    for phi, arg in zip((a, n, depth), fn.args):
        phi.add_incoming(arg, entry)
    leaf, split = fn.append_basic_block("leaf"), fn.append_basic_block("split")
    deep, partition = fn.append_basic_block("deep"), fn.append_basic_block("partition")
    b.cbranch(b.icmp_signed("<=", n, ir.Constant(_I64, LEAF)), leaf, split)
    with b.goto_block(leaf):
        b.call(net, [a, a, n, ir.Constant(_I1, 1)])
        b.ret_void()
    b.position_at_end(split)
    b.cbranch(b.icmp_signed("<=", depth, ir.Constant(_I64, 0)), deep, partition)
    with b.goto_block(deep):
        b.call(heap, [a, n])
        _loop(b, "decode", n, lambda b, k: b.store(_decode(b, codec, b.load(_at(b, a, k), typ=_I32)), _at(b, a, k)))
        b.store(ir.Constant(_I32, 1), note)
        b.ret_void()
    b.position_at_end(partition)
    deeper = b.sub(depth, ir.Constant(_I64, 1))
    lower, pivot, all_equal = _split_in_place(b, codec, a, n, samples)
    equal_block, two = fn.append_basic_block("equal"), fn.append_basic_block("two")
    b.cbranch(all_equal, equal_block, two)
    # the front: keys equal to the pivot, done; the back: the rest, sorted by the loop
    b.position_at_end(equal_block)
    _fill(b, codec, a, lower, pivot)
    rest = b.sub(n, lower)
    onward, finished = fn.append_basic_block("onward"), fn.append_basic_block("finished")
    b.cbranch(b.icmp_signed("==", rest, ir.Constant(_I64, 0)), finished, onward)
    with b.goto_block(finished):
        b.ret_void()
    b.position_at_end(onward)
    for phi, value in zip((a, n, depth), (_at(b, a, lower), rest, deeper)):
        phi.add_incoming(value, onward)
    b.branch(loop)
    # two parts: recurse into the smaller, loop on the larger
    b.position_at_end(two)
    upper = b.sub(n, lower)
    low_smaller = b.icmp_signed("<", lower, upper)
    back = _at(b, a, lower)
    b.call(fn, [b.select(low_smaller, a, back), b.select(low_smaller, lower, upper), deeper, note])
    for phi, value in zip((a, n, depth), (b.select(low_smaller, back, a), b.select(low_smaller, upper, lower),
                                          deeper)):
        phi.add_incoming(value, b.block)
    b.branch(loop)
    return fn


def _support(module, codec):
    if f"mlc_vsort_rec_{codec}" not in module.globals:
        _define_network(module, codec)
        _define_partition(module, codec, True)
        _define_recursive(module, codec)
    return module.globals[f"mlc_vsort_rec_{codec}"]


def _sort_all(b, codec, src, out, flag, n, samples, note):
    """Emit the whole sort of ``src[:n]`` into ``out`` (n > LEAF), then return ``note[0]``
    (0 before: 1 where a part was heapsorted)."""
    fn = b.function
    rec = fn.module.globals[f"mlc_vsort_rec_{codec}"]
    depth = b.sub(_depth_limit(b, n), ir.Constant(_I64, 1))
    lower, pivot, all_equal = _split(b, codec, src, out, n, flag, True, samples)
    rest = b.sub(n, lower)
    equal_block, two = fn.append_basic_block("equal"), fn.append_basic_block("two")
    b.cbranch(all_equal, equal_block, two)
    b.position_at_end(equal_block)
    _fill(b, codec, out, lower, pivot)
    b.call(rec, [_at(b, out, lower), rest, depth, note])
    b.ret(b.load(note, typ=_I32))
    b.position_at_end(two)
    b.call(rec, [out, lower, depth, note])
    b.call(rec, [_at(b, out, lower), rest, depth, note])
    b.ret(b.load(note, typ=_I32))


def define_sort(codec: str):
    """The body of ``fn(src, out, flag, n) -> i32``: ``src[:n]`` sorted into ``out``."""
    def define(fn: ir.Function) -> None:
        _support(fn.module, codec)
        net = fn.module.globals[f"mlc_vsort_net_{codec}"]
        src, out, flag, n = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        samples, note = b.alloca(_I32, LEAF), b.alloca(_I32)
        b.store(ir.Constant(_I32, 0), note)
        small, large = fn.append_basic_block("small"), fn.append_basic_block("large")
        b.cbranch(b.icmp_signed("<=", n, ir.Constant(_I64, LEAF)), small, large)
        b.position_at_end(small)  # encoded into out (noting NaNs and -0.0), sorted there
        b.call(fn.module.globals[f"mlc_vsort_partition_{codec}"],
               [src, out, n, ir.Constant(_I32, _MAX_KEY), ir.Constant(_I1, 1), flag])
        b.call(net, [out, out, n, ir.Constant(_I1, 1)])
        b.ret(ir.Constant(_I32, 0))
        b.position_at_end(large)
        _sort_all(b, codec, src, out, flag, n, samples, note)
    return define


def define_half(codec: str):
    """The body of ``fn(src, out, flag, n, part) -> i32`` (n > LEAF): one of two parts of
    the sort of ``src[:n]`` into ``out``, which two threads run at once (``part`` 0 and 1). Each
    samples the same pivot, reads all of ``src`` and keeps its side: part 0 the keys below the
    pivot (or equal to it, where it is the least sample), packed at the front of ``out``,
    part 1 the others, packed at its back; then sorts them there, in place. Part 0 sets ``flag[0]``; each returns 1 where it heapsorted a part. Where the parallel loop running the parts has a team of one thread
    (OpenMP's ``omp_get_num_threads``, the same for both parts), part 0 sorts it all, reading
    ``src`` once, and part 1 does nothing."""
    def define(fn: ir.Function) -> None:
        rec = _support(fn.module, codec)
        for side in ("front", "back"):
            if f"mlc_vsort_partition_{codec}_{side}" not in fn.module.globals:
                _define_partition(fn.module, codec, True, side)
        src, out, flag, n, part = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        samples, own_flag, note = b.alloca(_I32, LEAF), b.alloca(_I32), b.alloca(_I32)
        b.store(ir.Constant(_I32, 0), note)
        if _openmp_available():
            team = fn.module.globals.get("omp_get_num_threads")
            if team is None:
                team = declare(fn.module, "omp_get_num_threads", ir.FunctionType(_I32, []))
                team.attributes.add("nounwind")
            team = b.call(team, [])
            alone, shared = fn.append_basic_block("alone"), fn.append_basic_block("shared")
            b.cbranch(b.icmp_signed("<=", team, ir.Constant(_I32, 1)), alone, shared)
            b.position_at_end(alone)
            whole, idle = fn.append_basic_block("whole"), fn.append_basic_block("idle")
            b.cbranch(b.icmp_signed("==", part, ir.Constant(_I64, 0)), whole, idle)
            b.position_at_end(idle)
            b.ret(ir.Constant(_I32, 0))
            b.position_at_end(whole)
            _sort_all(b, codec, src, out, flag, n, samples, note)
            b.position_at_end(shared)
        pivot = _pivot(b, codec, src, n, samples, True)
        or_equal = b.icmp_signed("==", b.load(samples, typ=_I32), pivot)
        front, back = fn.append_basic_block("front"), fn.append_basic_block("back")
        b.cbranch(b.icmp_signed("==", part, ir.Constant(_I64, 0)), front, back)
        b.position_at_end(front)
        count = b.call(fn.module.globals[f"mlc_vsort_partition_{codec}_front"], [src, out, n, pivot, or_equal, flag])
        depth = b.sub(_depth_limit(b, n), ir.Constant(_I64, 1))
        b.call(rec, [out, count, depth, note])
        b.ret(b.load(note, typ=_I32))
        b.position_at_end(back)
        count = b.call(fn.module.globals[f"mlc_vsort_partition_{codec}_back"], [src, out, n, pivot, or_equal, own_flag])
        start = b.sub(n, count)
        depth = b.sub(_depth_limit(b, n), ir.Constant(_I64, 1))
        b.call(rec, [_at(b, out, start), count, depth, note])
        b.ret(b.load(note, typ=_I32))
    return define
