"""A vectorised quicksort of signed int32 keys, in LLVM IR: the CPU ``sort`` kernel's core.

``mlc_vsort_i32(keys, scratch, n)`` sorts ``n`` int32 keys in place (``scratch``: room
for ``n`` more). It is a quicksort whose partition moves 16 keys at a time from one
buffer to the other: a compare against the pivot gives a lane mask, and the keys
below the pivot are packed to the front of a vector (``llvm.experimental.vector.compress``,
one ``vpcompressd`` on AVX-512) and stored, as many as there are, at the front
of the other buffer, the rest likewise at its back. Each part is then sorted from
that buffer back into the first (the buffers take turns down the recursion), and a
part of at most ``LEAF`` keys is sorted in registers by a bitonic network (min, max
and lane shuffles of up to four 16-lane vectors) and stored where the sorted keys
belong. The pivot is the median of up to 64 keys sampled across the part (sorted by
the same network); a part whose pivot is its least key is split by ``<=`` instead of
``<``, its block of equal keys done at once (so equal keys cost no extra depth). The
smaller part is sorted by a recursive call, the larger by the loop: the depth of the
recursion is at most log2(n).

``mlc_vsort_split_i32(keys, scratch, n)`` is the first partition alone (keys into
scratch, pivot the median of 64 samples), returning where the upper part starts, and
``mlc_vsort_part_i32(src, out, n)`` sorts ``n`` keys of ``src`` into ``out`` (``src`` is
then scratch): so two threads can sort the two parts of one row.

Without AVX-512 (AVX2) LLVM writes the compress out lane by lane: correct, slow, so
the op uses this kernel only on AVX-512 targets.
"""
from __future__ import annotations

from llvmlite import ir

__all__ = ["LEAF", "define_vsort", "define_split", "define_part"]

_I1, _I16, _I32, _I64 = ir.IntType(1), ir.IntType(16), ir.IntType(32), ir.IntType(64)
_PTR = ir.PointerType()
_LANES = 16
_V = ir.VectorType(_I32, _LANES)
_M = ir.VectorType(_I1, _LANES)
#: The longest part the bitonic network sorts (4 vectors); longer ones are partitioned.
LEAF = 8 * _LANES
#: Samples for a part's pivot: 16 for parts up to SMALL_PART, else 64.
SMALL_PART = 1024
_MAX_KEY = 0x7FFFFFFF


def _declare(module, name, ret, args):
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ret, args), name=name)
        fn.attributes.add("nounwind")
    return fn


def _splat(value):
    return ir.Constant(_V, [ir.Constant(_I32, value)] * _LANES)


def _mask_const(bits):
    return ir.Constant(_M, [ir.Constant(_I1, int(b)) for b in bits])


def _vmin(b, x, y):
    return b.call(_declare(b.module, "llvm.smin.v16i32", _V, [_V, _V]), [x, y])


def _vmax(b, x, y):
    return b.call(_declare(b.module, "llvm.smax.v16i32", _V, [_V, _V]), [x, y])


def _prefix_mask(b, count):
    """The lanes below ``count`` (an i32 of 0..16)."""
    bits = b.sub(b.shl(ir.Constant(_I32, 1), count), ir.Constant(_I32, 1))
    return b.bitcast(b.trunc(bits, _I16), _M)


def _masked_load(b, ptr, mask, fill):
    fn = _declare(b.module, "llvm.masked.load.v16i32.p0", _V, [_PTR, _I32, _M, _V])
    return b.call(fn, [ptr, ir.Constant(_I32, 4), mask, fill])


def _masked_store(b, value, ptr, mask):
    fn = _declare(b.module, "llvm.masked.store.v16i32.p0", ir.VoidType(), [_V, _PTR, _I32, _M])
    b.call(fn, [value, ptr, ir.Constant(_I32, 4), mask])


def _compress(b, value, mask):
    fn = _declare(b.module, "llvm.experimental.vector.compress.v16i32", _V, [_V, _M, _V])
    return b.call(fn, [value, mask, ir.Constant(_V, None)])


def _popcount(b, mask):
    fn = _declare(b.module, "llvm.ctpop.i16", _I16, [_I16])
    return b.zext(b.call(fn, [b.bitcast(mask, _I16)]), _I32)


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
                    lo, hi = _vmin(b, regs[r], regs[p]), _vmax(b, regs[r], regs[p])
                    ascending = (r * _LANES) & k == 0
                    regs[r], regs[p] = (lo, hi) if ascending else (hi, lo)
            else:
                perm = ir.Constant(_V, [ir.Constant(_I32, lane ^ j) for lane in range(_LANES)])
                for r in range(len(regs)):
                    other = b.shuffle_vector(regs[r], ir.Constant(_V, None), perm)
                    lo, hi = _vmin(b, regs[r], other), _vmax(b, regs[r], other)
                    take_lo = [((e & j) == 0) == ((e & k) == 0) for e in (r * _LANES + lane for lane in range(_LANES))]
                    regs[r] = b.select(_mask_const(take_lo), lo, hi)
            j //= 2
        k *= 2
    return regs


def _define_network(module):
    """``mlc_vsort_net_i32(src, dst, m)``: the ``m`` <= LEAF keys at ``src`` sorted into ``dst``
    (may be ``src``)."""
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [_PTR, _PTR, _I64]), name="mlc_vsort_net_i32")
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    fn.attributes.add("noinline")  # (one copy: the leaves' and the pivots')
    src, dst, m = fn.args
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(entry)
    m32 = b.trunc(m, _I32)
    blocks = []
    for count in (1, 2, 4, 8):
        block = fn.append_basic_block(f"net{count}")
        blocks.append((count, block))
        with b.goto_block(block):
            masks = []
            regs = []
            for r in range(count):
                left = b.sub(m32, ir.Constant(_I32, r * _LANES))
                left = b.select(b.icmp_signed("<", left, ir.Constant(_I32, 0)), ir.Constant(_I32, 0), left)
                left = b.select(b.icmp_signed(">", left, ir.Constant(_I32, _LANES)), ir.Constant(_I32, _LANES), left)
                mask = _prefix_mask(b, left)
                masks.append(mask)
                regs.append(_masked_load(b, _at(b, src, ir.Constant(_I64, r * _LANES)), mask, _splat(_MAX_KEY)))
            for r, v in enumerate(_bitonic(b, regs)):
                _masked_store(b, v, _at(b, dst, ir.Constant(_I64, r * _LANES)), masks[r])
            b.ret_void()
    small = b.icmp_signed("<=", m, ir.Constant(_I64, _LANES))
    medium = fn.append_basic_block("medium")
    b.cbranch(small, blocks[0][1], medium)
    b.position_at_end(medium)
    large = fn.append_basic_block("large")
    b.cbranch(b.icmp_signed("<=", m, ir.Constant(_I64, 2 * _LANES)), blocks[1][1], large)
    b.position_at_end(large)
    b.cbranch(b.icmp_signed("<=", m, ir.Constant(_I64, 4 * _LANES)), blocks[2][1], blocks[3][1])
    return fn


def _define_partition(module):
    """``mlc_vsort_partition_i32(src, dst, n, pivot, or_equal) -> i64``: the ``n`` keys of ``src``
    below ``pivot`` (or equal to it, with ``or_equal``) packed to the front of ``dst``, the others
    to its back; returns how many went to the front."""
    fnty = ir.FunctionType(_I64, [_PTR, _PTR, _I64, _I32, _I1])
    fn = ir.Function(module, fnty, name="mlc_vsort_partition_i32")
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    src, dst, n, pivot, or_equal = fn.args
    entry, loop, tail = (fn.append_basic_block(s) for s in ("entry", "loop", "tail"))
    b = ir.IRBuilder(entry)
    pv = b.shuffle_vector(b.insert_element(ir.Constant(_V, None), pivot, ir.Constant(_I32, 0)),
                          ir.Constant(_V, None), ir.Constant(_V, [ir.Constant(_I32, 0)] * _LANES))
    whole = b.and_(n, ir.Constant(_I64, -_LANES))
    b.branch(loop)

    def step(b, i, lo, hi, valid):
        """Partition the keys at src[i:i+16] (those of ``valid`` lanes, None: all)."""
        v = (b.load(_at(b, src, i), typ=_V, align=4) if valid is None
             else _masked_load(b, _at(b, src, i), valid, _splat(0)))
        below = b.select(or_equal, b.icmp_signed("<=", v, pv), b.icmp_signed("<", v, pv))
        above = b.not_(below) if valid is None else b.and_(b.not_(below), valid)
        if valid is not None:
            below = b.and_(below, valid)
        nb, na = _popcount(b, below), _popcount(b, above)
        _masked_store(b, _compress(b, v, below), _at(b, dst, lo), _prefix_mask(b, nb))
        hi = b.sub(hi, b.zext(na, _I64))
        _masked_store(b, _compress(b, v, above), _at(b, dst, hi), _prefix_mask(b, na))
        return b.add(lo, b.zext(nb, _I64)), hi

    b.position_at_end(loop)
    i = b.phi(_I64)
    lo = b.phi(_I64)
    hi = b.phi(_I64)
    i.add_incoming(ir.Constant(_I64, 0), entry)
    lo.add_incoming(ir.Constant(_I64, 0), entry)
    hi.add_incoming(n, entry)
    more = b.icmp_signed("<", i, whole)
    body = fn.append_basic_block("body")
    b.cbranch(more, body, tail)
    b.position_at_end(body)
    lo2, hi2 = step(b, i, lo, hi, None)
    i.add_incoming(b.add(i, ir.Constant(_I64, _LANES)), body)
    lo.add_incoming(lo2, body)
    hi.add_incoming(hi2, body)
    b.branch(loop)
    b.position_at_end(tail)
    rest = b.trunc(b.sub(n, whole), _I32)
    lo3, _ = step(b, i, lo, hi, _prefix_mask(b, rest))
    b.ret(lo3)
    return fn


def _pivot(b, src, n, scratch):
    """The median of keys sampled evenly across ``src[:n]`` (16 for n <= SMALL_PART, else 64),
    sorted in ``scratch`` (LEAF keys of stack)."""
    net = b.module.globals["mlc_vsort_net_i32"]
    small = b.icmp_signed("<=", n, ir.Constant(_I64, SMALL_PART))
    count = b.select(small, ir.Constant(_I64, _LANES), ir.Constant(_I64, LEAF))
    stride = b.sdiv(n, count)
    fn = b.function
    head, body, after = (fn.append_basic_block(s) for s in ("sample", "sample_body", "sampled"))
    pre = b.block
    b.branch(head)
    b.position_at_end(head)
    k = b.phi(_I64)
    k.add_incoming(ir.Constant(_I64, 0), pre)
    b.cbranch(b.icmp_signed("<", k, count), body, after)
    b.position_at_end(body)
    b.store(b.load(_at(b, src, b.mul(k, stride)), typ=_I32), _at(b, scratch, k))
    k.add_incoming(b.add(k, ir.Constant(_I64, 1)), body)
    b.branch(head)
    b.position_at_end(after)
    b.call(net, [scratch, scratch, count])
    return b.load(_at(b, scratch, b.sdiv(count, ir.Constant(_I64, 2))), typ=_I32)


def _define_recursive(module):
    """``mlc_vsort_rec_i32(src, alt, n, src_is_out)``: the ``n`` keys of ``src`` sorted into
    ``src`` (``src_is_out``) or ``alt``; the other buffer is scratch."""
    fnty = ir.FunctionType(ir.VoidType(), [_PTR, _PTR, _I64, _I1])
    fn = ir.Function(module, fnty, name="mlc_vsort_rec_i32")
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    net, partition = module.globals["mlc_vsort_net_i32"], module.globals["mlc_vsort_partition_i32"]
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(entry)
    samples = b.alloca(_I32, LEAF)
    loop = fn.append_basic_block("loop")
    b.branch(loop)
    b.position_at_end(loop)
    src, alt, n, src_is_out = (b.phi(t) for t in (_PTR, _PTR, _I64, _I1))
    for phi, arg in zip((src, alt, n, src_is_out), fn.args):
        phi.add_incoming(arg, entry)
    leaf, split = fn.append_basic_block("leaf"), fn.append_basic_block("split")
    b.cbranch(b.icmp_signed("<=", n, ir.Constant(_I64, LEAF)), leaf, split)
    with b.goto_block(leaf):
        b.call(net, [src, b.select(src_is_out, src, alt), n])
        b.ret_void()
    b.position_at_end(split)
    pivot = _pivot(b, src, n, samples)
    lower = b.call(partition, [src, alt, n, pivot, ir.Constant(_I1, 0)])
    # the pivot the least key: split by <= instead; the front is then the keys equal to it
    least = fn.append_basic_block("least")
    two = fn.append_basic_block("two")
    b.cbranch(b.icmp_signed("==", lower, ir.Constant(_I64, 0)), least, two)
    b.position_at_end(least)
    equal = b.call(partition, [src, alt, n, pivot, ir.Constant(_I1, 1)])
    out = b.select(src_is_out, src, alt)
    fill_head, fill_body, fill_done = (fn.append_basic_block(s) for s in ("fill", "fill_body", "filled"))
    b.branch(fill_head)
    b.position_at_end(fill_head)
    f = b.phi(_I64)
    f.add_incoming(ir.Constant(_I64, 0), least)
    b.cbranch(b.icmp_signed("<", f, equal), fill_body, fill_done)
    b.position_at_end(fill_body)
    b.store(pivot, _at(b, out, f))
    f.add_incoming(b.add(f, ir.Constant(_I64, 1)), fill_body)
    b.branch(fill_head)
    b.position_at_end(fill_done)
    rest = b.sub(n, equal)
    finished = fn.append_basic_block("finished")
    onward = fn.append_basic_block("onward")
    b.cbranch(b.icmp_signed("==", rest, ir.Constant(_I64, 0)), finished, onward)
    with b.goto_block(finished):
        b.ret_void()
    b.position_at_end(onward)
    flipped = b.not_(src_is_out)
    src.add_incoming(_at(b, alt, equal), onward)
    alt.add_incoming(_at(b, src, equal), onward)
    n.add_incoming(rest, onward)
    src_is_out.add_incoming(flipped, onward)
    b.branch(loop)
    # two parts: recurse into the smaller, loop on the larger
    b.position_at_end(two)
    upper = b.sub(n, lower)
    flipped = b.not_(src_is_out)
    low_smaller = b.icmp_signed("<", lower, upper)
    front_src, back_src = alt, _at(b, alt, lower)
    front_alt, back_alt = src, _at(b, src, lower)
    b.call(fn, [b.select(low_smaller, front_src, back_src), b.select(low_smaller, front_alt, back_alt),
                b.select(low_smaller, lower, upper), flipped])
    src.add_incoming(b.select(low_smaller, back_src, front_src), b.block)
    alt.add_incoming(b.select(low_smaller, back_alt, front_alt), b.block)
    n.add_incoming(b.select(low_smaller, upper, lower), b.block)
    src_is_out.add_incoming(flipped, b.block)
    b.branch(loop)
    return fn


def _support(module):
    if "mlc_vsort_rec_i32" not in module.globals:
        _define_network(module)
        _define_partition(module)
        _define_recursive(module)
    return module.globals["mlc_vsort_rec_i32"]


def define_vsort(fn: ir.Function) -> None:
    """The body of ``fn(keys, scratch, n) -> i32``: ``keys[:n]`` sorted in place."""
    rec = _support(fn.module)
    keys, scratch, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.call(rec, [keys, scratch, n, ir.Constant(_I1, 1)])
    b.ret(ir.Constant(_I32, 0))


def define_split(fn: ir.Function) -> None:
    """The body of ``fn(keys, scratch, n) -> i64``: ``keys[:n]`` partitioned into ``scratch`` by the
    median of 64 samples (by ``<=`` where that is the least key); returns the front's length."""
    _support(fn.module)
    partition = fn.module.globals["mlc_vsort_partition_i32"]
    keys, scratch, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    samples = b.alloca(_I32, LEAF)
    pivot = _pivot(b, keys, n, samples)
    lower = b.call(partition, [keys, scratch, n, pivot, ir.Constant(_I1, 0)])
    zero = b.icmp_signed("==", lower, ir.Constant(_I64, 0))
    again, done = fn.append_basic_block("again"), fn.append_basic_block("done")
    b.cbranch(zero, again, done)
    b.position_at_end(again)
    b.ret(b.call(partition, [keys, scratch, n, pivot, ir.Constant(_I1, 1)]))
    b.position_at_end(done)
    b.ret(lower)


def define_part(fn: ir.Function) -> None:
    """The body of ``fn(src, out, n) -> i32``: ``src[:n]`` sorted into ``out`` (``src`` its scratch)."""
    rec = _support(fn.module)
    src, out, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.call(rec, [src, out, n, ir.Constant(_I1, 0)])
    b.ret(ir.Constant(_I32, 0))
