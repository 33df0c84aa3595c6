"""tensorize: replace a blockized computation by a tensor intrinsic's implementation.

The block's body must be loops around one inner block (what ``blockize``
makes). It is matched against the intrinsic's description:

* the loops pair up in order with equal extents;
* every inner iterator bound to the loops has a description iterator with the
  same binding and kind (spatial/reduce);
* the computations have the same shape (ops, dtypes, constants), and each
  buffer access equals the description's up to a fixed offset per dimension
  (the region of the real buffer the description's parameter stands for;
  extra leading dimensions of the real buffer stay fixed).

On success the block's body becomes the implementation, its parameters bound
to those regions; on a mismatch ScheduleError says which loop extent,
iterator, index or operation differs::

    with T.block("Y_update_o"):                     with T.block("Y_update_o"):
        vi_o, vj_o, vk_o = T.axis.remap(...)            vi_o, vj_o, vk_o = T.axis.remap(...)
        for j_1 in range(4):                  ->        for j in T.vectorized(4):
            with T.block("Y_update"): ...                   Y[vi_o, vj_o * 4 + j] = Y[vi_o, vj_o * 4 + j] + A[vi_o, vk_o] * B[vk_o, vj_o * 4 + j]
"""
from __future__ import annotations

import itertools
from dataclasses import replace as dc_replace

from ...ir.buffer import Buffer, BufferRegion
from ...ir.expr import BufferLoad, FloatImm, IntImm, PrimExpr, Range, Var
from ...ir.functor import Mutator, node_fields, pre_order_nodes, substitute
from ...ir.arith import canonical, expr_key, linear, uses_any
from ...ir.extern import AddressOf
from ...ir.expr import IterVar
from ...ir.range_mutator import IndexSimplifier
from ...ir.tir import BlockRealize, BufferStore, For, PrimFunc, Stmt
from ..analysis import is_true, loop_ranges
from ..base import LoopRV, ScheduleBase, instruction, schedule_error
from ..state import find_block, replace
from ..tensor_intrin import TensorIntrin, body_of, unit_of
from .blockize import blockize_ir, split_binding

__all__ = ["TensorizePrimitives", "tensorize_ir"]


class _Mismatch(Exception):
    """Internal: the first difference found, turned into a ScheduleError by the caller."""


class _Matcher:
    def __init__(self, d_loops, r_loops):
        self.loop_map = {r.loop_var: d.loop_var for r, d in zip(r_loops, d_loops)}
        self.d_loop_vars = [d.loop_var for d in d_loops]
        self.buffers: dict[int, Buffer] = {}     # id(desc buffer) -> real buffer
        self.reverse: dict[int, Buffer] = {}     # id(real buffer) -> desc buffer
        self.layout: dict[int, tuple] = {}       # id(desc buffer) -> (dims, offsets)

    # ------------------------------------------------------------ iterators
    def check_iters(self, d_inner: BlockRealize, r_inner: BlockRealize) -> None:
        d_parts = []
        for iv, value in zip(d_inner.block.iter_vars, d_inner.iter_values):
            parts = split_binding(value, self.d_loop_vars)
            d_parts.append((iv, parts[1] if parts else linear(value)))
        used = set()
        for iv, value in zip(r_inner.block.iter_vars, r_inner.iter_values):
            parts = split_binding(substitute(value, self.loop_map), self.d_loop_vars)
            if parts is None:
                raise _Mismatch(f"iterator {iv.var.name} is bound to {value!r}, which mixes the "
                                "tensorized loops with outer ones non-affinely")
            inner = parts[1]
            if not inner.terms:
                continue
            key = _lin_key(inner)
            match = next((n for n, (_, p) in enumerate(d_parts) if p.terms and _lin_key(p) == key), None)
            if match is None:
                listed = ", ".join(f"{d.var.name} = {p.to_expr()!r}" for d, p in d_parts if p.terms)
                raise _Mismatch(f"iterator {iv.var.name} is bound to {inner.to_expr()!r} inside the "
                                f"tensorized loops, but no description iterator is (description: {listed})")
            d_iv = d_parts[match][0]
            if d_iv.iter_type != iv.iter_type:
                raise _Mismatch(f"iterator {iv.var.name} is {iv.iter_type} in the block but "
                                f"{d_iv.var.name} is {d_iv.iter_type} in the description")
            used.add(match)
        for n, (d_iv, p) in enumerate(d_parts):
            if p.terms and n not in used:
                raise _Mismatch(f"description iterator {d_iv.var.name} (bound to {p.to_expr()!r}) has no "
                                "counterpart in the block")

    # ---------------------------------------------------------------- bodies
    def compare(self, d, r) -> None:
        if type(d) is not type(r):
            raise _Mismatch(f"the block computes `{r!r}` where the description has `{d!r}`")
        if isinstance(d, (BufferLoad, BufferStore)):
            self._access(d, r)
            if isinstance(d, BufferStore):
                self.compare(d.value, r.value)
            return
        if isinstance(d, Var):
            if d is not r:
                raise _Mismatch(f"the block uses `{r!r}` where the description uses `{d!r}`")
            return
        if isinstance(d, (IntImm, FloatImm)):
            if d.dtype != r.dtype or d.value != r.value:
                raise _Mismatch(f"constant {r!r} in the block vs {d!r} in the description")
            return
        if hasattr(d, "dtype") and getattr(d, "dtype") != getattr(r, "dtype"):
            raise _Mismatch(f"dtype {r.dtype} of `{r!r}` in the block vs {d.dtype} of `{d!r}` in the "
                            "description")
        for (name, dv), (_, rv) in zip(node_fields(d), node_fields(r)):
            if isinstance(dv, tuple):
                if len(dv) != len(rv):
                    raise _Mismatch(f"`{r!r}` in the block vs `{d!r}` in the description")
                for x, y in zip(dv, rv):
                    self.compare(x, y)
            elif isinstance(dv, (PrimExpr, Stmt)) or dv is None:
                if (dv is None) != (rv is None):
                    raise _Mismatch(f"`{r!r}` in the block vs `{d!r}` in the description")
                if dv is not None:
                    self.compare(dv, rv)
            elif dv != rv:
                raise _Mismatch(f"{name} {rv!r} in the block vs {dv!r} in the description "
                                f"(`{r!r}` vs `{d!r}`)")

    def _access(self, d, r) -> None:
        dbuf, rbuf = d.buffer, r.buffer
        bound = self.buffers.get(id(dbuf))
        if bound is None:
            if id(rbuf) in self.reverse:
                raise _Mismatch(f"buffer {rbuf.name} plays two roles ({self.reverse[id(rbuf)].name} and "
                                f"{dbuf.name} in the description)")
            if dbuf.dtype != rbuf.dtype:
                raise _Mismatch(f"buffer {rbuf.name} is {rbuf.dtype} but the description's {dbuf.name} "
                                f"is {dbuf.dtype}")
            if dbuf.scope != "global" and dbuf.scope != rbuf.scope:
                raise _Mismatch(f"buffer {rbuf.name} is in scope {rbuf.scope!r} but the description's "
                                f"{dbuf.name} needs {dbuf.scope!r} (cache_read/cache_write into it first)")
            self.buffers[id(dbuf)], self.reverse[id(rbuf)] = rbuf, dbuf
        elif bound is not rbuf:
            raise _Mismatch(f"the description's {dbuf.name} is {bound.name} elsewhere but {rbuf.name} here")
        self._indices(dbuf, rbuf, d.indices, r.indices)

    def _indices(self, dbuf, rbuf, d_idx, r_idx) -> None:
        D, R = len(d_idx), len(r_idx)
        if D > R:
            raise _Mismatch(f"the description's {dbuf.name} has {D} dimensions but {rbuf.name} has {R}")
        known = self.layout.get(id(dbuf))
        choices = [known[0]] if known else list(itertools.combinations(range(R), D))[::-1]
        first_error = None
        for dims in choices:
            offsets, error = self._offsets(dims, d_idx, r_idx, rbuf, dbuf)
            if error is None:
                if known and [expr_key(canonical(o)) for o in offsets] != [expr_key(canonical(o)) for o in known[1]]:
                    raise _Mismatch(f"{rbuf.name} is accessed at {_show(rbuf, r_idx)} but elsewhere at an "
                                    "offset inconsistent with the description's "
                                    f"{_show(dbuf, d_idx)}")
                self.layout[id(dbuf)] = (dims, offsets)
                return
            first_error = first_error or error
        raise _Mismatch(first_error)

    def _offsets(self, dims, d_idx, r_idx, rbuf, dbuf):
        offsets = []
        for rd, r in enumerate(r_idx):
            if rd in dims:
                dd = dims.index(rd)
                diff = linear(r).add(linear(d_idx[dd]), -1).to_expr()
            else:
                dd, diff = None, canonical(r)
            if uses_any(diff, self.d_loop_vars):
                which = f"index {rd} of {rbuf.name}"
                want = "a fixed offset" if dd is None else f"{d_idx[dd]!r} plus a fixed offset"
                return None, (f"{which} is `{canonical(r)!r}` where the description needs {want} "
                              f"({_show(rbuf, r_idx)} vs {_show(dbuf, d_idx)})")
            offsets.append(diff)
        return offsets, None


def _int_value(e) -> int | None:
    """A loop bound as an int: a Python int and ``const(n)`` are the same extent."""
    if isinstance(e, bool):
        return None
    if isinstance(e, int):
        return e
    return e.value if isinstance(e, IntImm) else None


def _addressed_params(impl: PrimFunc) -> list[Buffer]:
    """The implementation's parameters whose element addresses it takes (``T.address_of``)."""
    ids = {id(n.load.buffer) for n in pre_order_nodes(impl.body) if isinstance(n, AddressOf)}
    return [p for p in impl.params if id(p) in ids]


def _dense_problem(param: Buffer, real: Buffer, dims) -> str | None:
    """Why the region of ``real`` that ``param`` stands for is not one dense tile, or None.

    It is dense when ``param``'s dimensions are the last ones of ``real`` and every
    one but the first has the extent it has in ``real``. A ``param`` declared with
    strides (``(ldm, 1)``: its implementation finds the row stride itself, as the
    WMMA intrinsics do) needs only its dimensions to be the last ones of ``real``,
    whose elements in a row are adjacent (rows padded by storage_align are fine).
    """
    ndim = len(real.shape)
    if list(dims) != list(range(ndim - len(dims), ndim)):
        return f"the tile spans dimensions {list(dims)}, not the last {len(dims)}"
    if param.strides:  # rows of any stride (storage_align padding included), elements adjacent
        if real.strides and _int_value(real.strides[-1]) != 1:
            return f"its last dimension has stride {real.strides[-1]!r}, not 1"
        return None
    if real.strides:
        return "the buffer has explicit strides"
    for d, (want, have) in enumerate(zip(param.shape[1:], [real.shape[x] for x in dims[1:]]), start=1):
        if _int_value(want) != _int_value(have):
            return (f"dimension {dims[d]} has extent {_int_value(have)}, not the tile's "
                    f"{_int_value(want)}")
    return None


def _lin_key(lin) -> tuple:
    return tuple(sorted((expr_key(a), c) for a, c in lin.terms.values())) + (lin.const,)


def _show(buf: Buffer, idx) -> str:
    return f"{buf.name}[{', '.join(repr(canonical(i)) for i in idx)}]"


class _BindImpl(Mutator):
    """Point the implementation's parameters at the matched regions of the real buffers."""

    def __init__(self, binding: dict[int, tuple[Buffer, tuple, list]]):
        self.binding = binding

    def _map(self, buf, idx):
        real, dims, offsets = self.binding[id(buf)]
        out = []
        for rd, off in enumerate(offsets):
            out.append(canonical(off + idx[dims.index(rd)]) if rd in dims else off)
        return real, tuple(out)

    def visit_BufferLoad(self, node):
        node = self.generic_visit(node)
        if id(node.buffer) not in self.binding:
            return node
        real, idx = self._map(node.buffer, node.indices)
        return BufferLoad(real, idx, node.dtype)

    def visit_BufferStore(self, node):
        node = self.generic_visit(node)
        if id(node.buffer) not in self.binding:
            return node
        real, idx = self._map(node.buffer, node.indices)
        return BufferStore(real, node.value, idx)

    def visit_BufferRegion(self, node):
        if id(node.buffer) not in self.binding:
            return node
        real, dims, offsets = self.binding[id(node.buffer)]
        ranges = [Range(canonical(off + node.region[dims.index(rd)].min), node.region[dims.index(rd)].extent)
                  if rd in dims else Range(off, IntImm(1, off.dtype)) for rd, off in enumerate(offsets)]
        return BufferRegion(real, tuple(ranges))


def _fresh_vars(stmt: Stmt) -> Stmt:
    """``stmt`` with every loop and block iterator variable it defines renamed to a fresh one."""
    defined = {}
    for node in pre_order_nodes(stmt):
        if isinstance(node, For):
            defined[node.loop_var] = Var(node.loop_var.name, node.loop_var.dtype)
        elif isinstance(node, IterVar):
            defined[node.var] = Var(node.var.name, node.var.dtype)
    return substitute(stmt, defined)


def _real_init(outer: BlockRealize, r_inner: BlockRealize) -> Stmt | None:
    """The block's init: on the outer block (where blockize puts it), or on the inner one."""
    return outer.block.init if outer.block.init is not None else r_inner.block.init


def _check_inits(block: str, outer: BlockRealize, r_inner: BlockRealize, d_inner: BlockRealize,
                 d_loop_vars, r_loops) -> None:
    """The description's init must run exactly when the block's init runs.

    A description with ``T.init()`` (what ``te.sum`` writes) overwrites its
    output at the start of every call. That equals the block's init only when
    each call covers the block's whole reduction: the outer block's reduce
    iterators have one value, and every inner reduce iterator's part outside
    the tensorized loops is fixed at the start of its domain. Otherwise (the
    reduction continues across calls, e.g. ``vk_o`` over 64 tiles) the result
    would keep only the last call's tile.
    """
    r_blk, d_blk = r_inner.block, d_inner.block
    real = _real_init(outer, r_inner)
    if d_blk.init is None:
        if real is not None:
            holder = f"block {block!r}" if outer.block.init is not None else f"the inner block {r_blk.name_hint!r}"
            raise _Mismatch(f"{holder} has T.init() but the description does not (it only "
                            f"accumulates); decompose_reduction first (decompose_reduction({block!r}, "
                            "<its outermost reduction loop>)), so the init runs on its own and can be "
                            "tensorized with an intrinsic of its own")
        return
    if real is None:
        raise _Mismatch("the description has T.init(): it overwrites its output with a fresh "
                        "reduction, but the block only accumulates into its output (its init was "
                        "decomposed); tensorize it with an intrinsic whose description has no init")
    fixed = {iv.var: iv.dom.min for iv in outer.block.iter_vars
             if isinstance(iv.dom.extent, IntImm) and iv.dom.extent.value == 1}
    for iv in outer.block.iter_vars:
        if iv.iter_type == "reduce" and iv.var not in fixed:
            raise _Mismatch(
                f"the description has T.init(), which re-initialises the output at the start of "
                f"every tile, but the reduction over {iv.var.name} continues across tiles ({iv.var.name} "
                f"takes {iv.dom.extent!r} values), so only the last tile would remain; decompose_reduction "
                "first and tensorize the update with an intrinsic whose description has no init, or "
                "tensorize a tile that covers the whole reduction")
    loop_map = {r.loop_var: d for r, d in zip(r_loops, d_loop_vars)}
    for iv, value in zip(r_blk.iter_vars, r_inner.iter_values):
        if iv.iter_type != "reduce":
            continue
        parts = split_binding(substitute(value, loop_map), d_loop_vars)
        start = canonical(substitute(parts[0].to_expr(), fixed)) if parts else None
        if not (isinstance(start, IntImm) and isinstance(iv.dom.min, IntImm)
                and start.value == iv.dom.min.value):
            part = "?" if parts is None else repr(canonical(parts[0].to_expr()))
            raise _Mismatch(
                f"the description has T.init(), which re-initialises the output at the start of "
                f"every tile, but the reduction over {iv.var.name} continues across tiles (its part "
                f"outside the tensorized loops is `{part}`), so only the last tile would remain; "
                f"decompose_reduction before blockize and tensorize the update with an intrinsic "
                "whose description has no init, or tensorize a tile that covers the whole reduction")


def _init_as_desc(outer: BlockRealize, r_inner: BlockRealize, r_loops, loop_map) -> Stmt:
    """The block's init as one statement over the description's loop variables.

    An init that blockize moved to the outer block is loops (copies of the
    tensorized spatial loops, same names) around a block; its loops are
    mapped back to the tensorized loops by name.
    """
    if outer.block.init is None:
        blk = r_inner.block
        sub = {iv.var: substitute(v, loop_map) for iv, v in zip(blk.iter_vars, r_inner.iter_values)}
        return substitute(blk.init, sub)
    unit = unit_of(outer.block.init)
    if unit is None:
        raise _Mismatch("the block's T.init() is not loops around one block")
    init_loops, init_realize = unit
    by_name = {r.loop_var.name: r.loop_var for r in r_loops}
    missing = [f.loop_var.name for f in init_loops if f.loop_var.name not in by_name]
    if missing:
        raise _Mismatch(f"the init's loop {missing[0]} is none of the tensorized loops")
    to_desc = {f.loop_var: loop_map[by_name[f.loop_var.name]] for f in init_loops}
    blk = init_realize.block
    sub = {iv.var: substitute(v, to_desc) for iv, v in zip(blk.iter_vars, init_realize.iter_values)}
    return substitute(blk.body, sub)


def tensorize_ir(func: PrimFunc, block: str, intrin: TensorIntrin) -> PrimFunc:
    """Replace the body of the blockized ``block`` with ``intrin``'s implementation."""
    prim = "tensorize"
    loc = find_block(func, block, prim)
    outer = loc.node
    where = f"block {block!r}, intrinsic {intrin.name!r}: "
    real = unit_of(outer.block.body)
    if real is None:
        raise schedule_error(prim, where + "the block's body must be loops around one inner block; "
                             "blockize a loop first, or tensorize the loop itself", func, outer)
    r_loops, r_inner = real
    d_loops, d_inner = unit_of(body_of(intrin.desc))
    try:
        if len(r_loops) != len(d_loops):
            raise _Mismatch(f"the block has {len(r_loops)} loop(s) inside, the description {len(d_loops)}")
        for n, (r, d) in enumerate(zip(r_loops, d_loops)):
            for what in ("extent", "min"):
                rv, dv = _int_value(getattr(r, what)), _int_value(getattr(d, what))
                if rv is None or dv is None or rv != dv:
                    rv, dv = getattr(r, what), getattr(d, what)
                    raise _Mismatch(f"loop {n} ({r.loop_var.name}) has {what} {rv!r} but the "
                                    f"description's loop {d.loop_var.name} has {what} {dv!r}")
        matcher = _Matcher(d_loops, r_loops)
        matcher.check_iters(d_inner, r_inner)
        if not is_true(r_inner.predicate):
            raise _Mismatch(f"the inner block has the predicate {r_inner.predicate!r}; tensorize "
                            "needs whole tiles")
        r_blk, d_blk = r_inner.block, d_inner.block
        _check_inits(block, outer, r_inner, d_inner, matcher.d_loop_vars, r_loops)
        r_sub = {iv.var: substitute(v, matcher.loop_map) for iv, v in zip(r_blk.iter_vars, r_inner.iter_values)}
        d_sub = {iv.var: v for iv, v in zip(d_blk.iter_vars, d_inner.iter_values)}
        # (the description's loop ranges and the outer block's iterator domains)
        tidy = IndexSimplifier({**{iv.var: iv.dom for iv in outer.block.iter_vars}, **loop_ranges(d_loops)})
        matcher.compare(substitute(d_blk.body, d_sub), tidy.visit(substitute(r_blk.body, r_sub)))
        if d_blk.init is not None:
            matcher.compare(substitute(d_blk.init, d_sub),
                            tidy.visit(_init_as_desc(outer, r_inner, r_loops, matcher.loop_map)))
    except _Mismatch as err:
        raise schedule_error(prim, where + f"the block does not match the description: {err}",
                             func, outer) from None
    binding = {}
    for d_param, i_param in zip(intrin.desc.params, intrin.impl.params):
        if id(d_param) not in matcher.buffers:
            raise schedule_error(prim, where + f"the description never accesses its parameter "
                                 f"{d_param.name}, so it cannot be bound", func, outer)
        dims, offsets = matcher.layout[id(d_param)]
        binding[id(i_param)] = (matcher.buffers[id(d_param)], dims, offsets)
    for param in _addressed_params(intrin.impl):
        real, dims, _ = binding[id(param)]
        problem = _dense_problem(param, real, dims)
        if problem:
            raise schedule_error(prim, where + f"the implementation passes the address of its "
                                 f"parameter {param.name} to an external function, which reads a "
                                 f"dense {'x'.join(str(_int_value(e)) for e in param.shape)} tile, "
                                 f"but it is bound to {real.name}{tuple(_int_value(e) for e in real.shape)}, "
                                 f"where {problem}; change the layout (cache_read, transform_layout) "
                                 "so that the tile is contiguous", func, outer)
    body = _BindImpl(binding).visit(_fresh_vars(body_of(intrin.impl)))
    # A matched init is the implementation's to run: the block keeps none.
    return replace(func, outer, dc_replace(outer, block=dc_replace(outer.block, body=body, init=None)))


class TensorizePrimitives(ScheduleBase):

    @instruction
    def tensorize(self, block_or_loop, intrin_name: str) -> None:
        """Replace a blockized block, or a loop (blockized first), by the implementation
        of the tensor intrinsic ``intrin_name`` (see :class:`~mlc.schedules.TensorIntrin`),
        its parameters bound to the buffer regions the block accesses.

        An unknown intrinsic, or a block that does not match the intrinsic's
        description, is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.dot(8))
        >>> block = sch.get_block("C")
        >>> i, k = sch.get_loops(block)
        >>> k0, k1 = sch.split(k, factors=[2, 4])
        >>> init = sch.decompose_reduction(block, k0)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32"), C: T.Buffer((1,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in range(1):
                with T.block("C_init"):
                    vi = T.axis.spatial(1, i)
                    T.reads()
                    T.writes(C[vi])
                    C[vi] = T.float32(0)
                for k_0, k_1 in T.grid(2, 4):
                    with T.block("C_update"):
                        vi = T.axis.spatial(1, i)
                        vk = T.axis.reduce(8, k_0 * 4 + k_1)
                        T.reads(C[vi], A[vk], B[vk])
                        T.writes(C[vi])
                        C[vi] = C[vi] + A[vk] * B[vk]
        >>> sch.tensorize(k1, "dot_4_f32")
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32"), C: T.Buffer((1,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in range(1):
                with T.block("C_init"):
                    vi = T.axis.spatial(1, i)
                    T.reads()
                    T.writes(C[vi])
                    C[vi] = T.float32(0)
                for k_0 in range(2):
                    with T.block("C_update_o"):
                        vi_o, vk_o = T.axis.remap("SR", [i, k_0])
                        T.reads(C[vi_o], A[vk_o * 4:vk_o * 4 + 4], B[vk_o * 4:vk_o * 4 + 4])
                        T.writes(C[vi_o])
                        for k in T.unroll(4):
                            C[vi_o] = C[vi_o] + A[vk_o * 4 + k] * B[vk_o * 4 + k]
        """
        intrin = TensorIntrin.get(intrin_name)
        if isinstance(block_or_loop, LoopRV):
            fname, func, lloc = self._loop(block_or_loop, "tensorize")
            func, name = blockize_ir(func, lloc.node.loop_var)
        else:
            fname, func, loc = self._block(block_or_loop, "tensorize")
            name = loc.node.block.name_hint
        self._commit(fname, tensorize_ir(func, name, intrin))
