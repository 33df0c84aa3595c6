"""compact_gpu_buffers: a ``shared`` buffer as large as one thread block's tile, a
``local`` one as large as one thread's (TVM's CompactBufferAllocation, with the
GPU's rule for which loops a buffer may be privatised over).

Schedules keep a cache's full shape at the function root (``A_shared:
float32[1024, 1024]``); on a GPU that would not fit in shared memory. Each
block has its own shared memory and each thread its own local memory, so the
box a buffer needs is the part one block (one thread) touches:

- ``shared``: relaxed over every loop but the ``blockIdx`` loops (the threads
  of a block share it) and the serial loops around all its accesses whose
  iterations touch disjoint boxes (a tile refetched per ``k`` step);
- ``local``: relaxed over the loops under the innermost loop around all its
  accesses, where thread loops always qualify and serial ones when disjoint;
- tensor-core fragments (``wmma.*``, one per warp): as ``local``, a warp's
  copy being what its intrinsic calls touch; where the init, the update and the
  store of an accumulator sit under warp loops of their own (``threadIdx.y``
  loops that are siblings, not one loop around all three), the warp's index is
  taken as one variable across them (:func:`_per_warp`), so that a warp's copy
  is its own tiles and not the whole block's: a fragment array indexed by the
  warp's index would live in local memory, not in registers.

The guards around an access narrow the loops it is relaxed over first
(:func:`_narrowed`): 256 threads fetching a 2 x 64 tile run under
``thread < 128``, so the tile's row ``k_0 * 2 + thread // 64`` spans two rows per
``k`` step, and the steps' tiles stay disjoint (else the whole of ``K`` is kept).

Accesses are re-indexed from the box's corner, which may depend on the
block's and the thread's index. A buffer padded by ``storage_align`` keeps
its alignment: :func:`note_storage_align` (run while blocks exist) records
the requests, and the compacted buffer gets strides that satisfy them for
its new shape (a ``[32, 16]`` tile with ``stride[0] % 32 == 8`` is ``[32, 16]``
with strides ``(40, 1)``). Runs before ``flatten_buffers``, after
``compact_buffers`` (which leaves GPU buffers alone).

Before::

    A_shared = T.allocate([64, 64], "float32", "shared")
    for i_0 in T.thread_binding(8, "blockIdx.y"):
        ...
        for k_0 in range(8):
            for f in T.thread_binding(64, "threadIdx.x"):   # the fetch
                A_shared[i_0 * 8 + f // 8, k_0 * 8 + f % 8] = A[...]

After::

    for i_0 in T.thread_binding(8, "blockIdx.y"):
        ...
        for k_0 in range(8):
            A_shared = T.allocate([8, 8], "float32", "shared")
            for f in T.thread_binding(64, "threadIdx.x"):
                A_shared[f // 8, f % 8] = A[...]
"""
from __future__ import annotations

from ...ir import dtype as dt

from ...ir.buffer import DIM_ALIGN, FRAGMENT_SCOPES, Buffer, aligned_strides
from ...ir.expr import Binary, IntImm, Var, const
from ...ir.arith import IntSet, canonical, expr_key, linear, relax, uses_any
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.tir import Allocate, Block, For, PrimFunc
from .compact_buffers import AccessIndex, _disjoint, _Rebase, buffer_accesses, loops_around_all, rebase

__all__ = ["compact_gpu_buffers", "note_storage_align", "ALIGN_ATTR"]

#: The function attribute note_storage_align leaves for compact_gpu_buffers.
ALIGN_ATTR = "gpu.storage_align"

_GPU_SCOPES = ("shared", "local") + FRAGMENT_SCOPES


def _bounds_from(conds, index, relaxed) -> tuple[list, list]:
    """Lower and upper bounds on ``index`` that the ``conds`` around an access imply: a
    conjunct ``e < c`` (``<=``, ``>``, ``>=``) whose ``e`` differs from ``index`` by an
    expression of no ``relaxed`` loop bounds it (the guard of a ragged cooperative fetch)."""
    lows, highs = [], []
    for c in _comparisons(conds):
        for e, bound, op in ((c.a, c.b, c.op), (c.b, c.a, _FLIP[c.op])):
            diff = canonical(index - e)
            if uses_any(diff, relaxed) or uses_any(bound, relaxed):
                continue
            if op == "lt":
                highs.append(canonical(diff + bound - 1))
            elif op == "le":
                highs.append(canonical(diff + bound))
            elif op == "gt":
                lows.append(canonical(diff + bound + 1))
            else:
                lows.append(canonical(diff + bound))
    return lows, highs


_FLIP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _comparisons(conds):
    """The conjuncts ``a < b`` (``<=``, ``>``, ``>=``) of ``conds`` (``and`` taken apart)."""
    stack = list(conds)
    while stack:
        c = stack.pop()
        if isinstance(c, Binary) and c.op == "and":
            stack += [c.a, c.b]
        elif isinstance(c, Binary) and c.op in ("lt", "le", "gt", "ge"):
            yield c


def _narrowed(dom: dict, conds) -> dict:
    """``dom`` (loop variable -> IntSet of constants) with each variable's range narrowed by
    the conjuncts ``e < c`` (``<=``, ``>``, ``>=``) of ``conds`` that bound it linearly
    given the others' ranges: the guard ``f_0 * 256 + f_1 < 128`` of a fetch of 128
    elements by 256 threads keeps ``f_1`` in ``[0, 127]``, so that ``f_1 // 64`` spans two
    rows, not four (an access happens only where its guards hold).

    >>> from mlc.ir.expr import Var
    >>> f0, f1 = Var("f0"), Var("f1")
    >>> dom = {f0: IntSet(const(0), const(0)), f1: IntSet(const(0), const(255))}
    >>> _narrowed(dom, [f0 * 256 + f1 < 128])[f1].max
    127
    """
    out = dict(dom)
    for c in _comparisons(conds):
        # the conjunct as ``form <= bound``
        form = linear(c.a - c.b) if c.op in ("lt", "le") else linear(c.b - c.a)
        bound = -1 if c.op in ("lt", "gt") else 0
        for _, (atom, coef) in list(form.terms.items()):
            if not isinstance(atom, Var) or atom not in out:
                continue
            rest = form.copy()
            rest.add_term(atom, -coef)
            low = relax(rest.to_expr(), {v: s for v, s in out.items() if v is not atom}).min
            if not isinstance(low, IntImm):
                continue
            s = out[atom]
            if coef > 0:  # coef * v <= bound - low
                limit = const((bound - low.value) // coef, atom.dtype)
                if isinstance(s.max, IntImm) and limit.value < s.max.value:
                    out[atom] = IntSet(s.min, limit)
            else:  # -|coef| * v <= bound - low: v >= (low - bound) / |coef|
                limit = const(-((bound - low.value) // -coef), atom.dtype)
                if isinstance(s.min, IntImm) and limit.value > s.min.value:
                    out[atom] = IntSet(limit, s.max)
    return out


def _tighter(old, candidates, pick_smaller: bool):
    for c in candidates:
        if old is None:
            old = c
            continue
        d = canonical(c - old)
        if isinstance(d, IntImm) and (d.value < 0 if pick_smaller else d.value > 0):
            old = c
    return old


def _box(buffer: Buffer, accesses, prefix: list[For], relaxations: dict | None = None):
    """Per dimension, (corner, extent) of what one iteration of ``prefix`` touches, the
    guards around each access taken into account; a dimension whose extent is not constant
    keeps the whole buffer (corner 0). Accesses alike (the same indices under the same loops
    and guards: a value read in several statements) touch the same elements and count once:
    each one more would grow the union's endpoints by a ``min``/``max`` that every later
    union step compares anew. ``relaxations`` (optional, kept across calls) holds each
    access's box by what it is made from: its indices and guards and the variables and
    bounds of the loops it is relaxed over (the same in other loops alike, other buffers'
    accesses and other prefixes)."""
    inside = {id(f) for f in prefix}
    sets = None
    seen = set()
    for indices, loops, conds in accesses:
        key = (expr_key(tuple(indices)), tuple(id(f) for f in loops), expr_key(tuple(conds)))
        if key in seen:
            continue
        seen.add(key)
        free = [f for f in loops if id(f) not in inside]
        if relaxations is None:
            relaxed = _relaxed(indices, conds, free)
        else:
            how = (key[0], key[2], tuple((id(f.loop_var), expr_key(f.min), expr_key(f.extent)) for f in free))
            hit = relaxations.get(how)
            if hit is None:  # the entry holds what its key's ids name, so they are not reused
                hit = relaxations[how] = (_relaxed(indices, conds, free), free, indices, conds)
            relaxed = hit[0]
        sets = relaxed if sets is None else [a.union(b) for a, b in zip(sets, relaxed)]
    out = []
    for s, size in zip(sets, buffer.shape):
        extent = s.extent() if s.min is not None and s.max is not None else None
        if isinstance(extent, IntImm) and 0 < extent.value < size.value:
            out.append((s.min, extent.value))
        else:
            out.append((const(0, size.dtype), size.value))
    return out


def _relaxed(indices, conds, free: list[For]) -> list[IntSet]:
    """Per index, the values it takes over the ``free`` loops where ``conds`` hold."""
    dom = {f.loop_var: IntSet(f.min, canonical(f.min + f.extent - 1)) for f in free}
    if conds:
        dom = _narrowed(dom, conds)
    relaxed = []
    for i in indices:
        s = relax(i, dom)
        lows, highs = _bounds_from(conds, i, [f.loop_var for f in free])
        relaxed.append(IntSet(_tighter(s.min, lows, False), _tighter(s.max, highs, True)))
    return relaxed


def _kind(loop: For, scope: str) -> str:
    """How ``buffer`` may be privatised over ``loop``: "free" (every iteration has its own
    copy on a GPU), "checked" (if iterations touch disjoint boxes) or "stop"."""
    if loop.kind == "thread_binding":
        axis = (loop.thread_binding or "").split(".")[0]
        if axis == "blockIdx" or scope != "shared":
            return "free"
        return "stop"  # threads of a block share it
    if loop.kind in ("serial", "unrolled"):
        return "checked"
    return "stop"


def _plan(buffer: Buffer, body, threads: tuple[For, ...] = (), aligned=frozenset(),
          index: AccessIndex | None = None, relaxations: dict | None = None):
    """(the loop whose iterations each get a copy, or None; the box) for ``buffer``
    allocated around ``body`` under the ``threads`` loops (threadIdx loops enclosing the
    allocation: the block's threads share a shared buffer allocated under them). A buffer
    with strides is left alone unless they come from ``storage_align`` (``aligned``).
    ``index`` and ``relaxations`` (optional) keep what one pass run found for the next
    allocation (:class:`~.compact_buffers.AccessIndex`, :func:`_box`)."""
    if buffer.scope not in _GPU_SCOPES or (buffer.strides and id(buffer) not in aligned) or \
            not all(isinstance(e, IntImm) for e in buffer.shape):
        return None
    accesses = buffer_accesses(buffer, body) if index is None else index.accesses(buffer, body)
    if not accesses or any(dt.lanes(i.dtype) > 1 for indices, _, _ in accesses for i in indices):
        return None  # vector indices (T.Ramp): a kernel written per block and thread, left as it is
    if buffer.scope == "shared" and threads:
        accesses = [(indices, threads + loops, conds) for indices, loops, conds in accesses]
    prefix = []
    for f in loops_around_all(accesses):
        kind = _kind(f, buffer.scope)
        if kind == "stop":
            if f.kind == "thread_binding":
                continue  # a shared buffer stays shared over the block's threads
            break
        prefix.append((f, kind))
    while prefix:
        loops = [f for f, _ in prefix]
        checked = [f for f, k in prefix if k == "checked"]
        box = _box(buffer, accesses, loops, relaxations)
        if _disjoint_per_copy(prefix, checked, box):
            return loops[-1], box
        prefix.pop()
    box = _box(buffer, accesses, [], relaxations)
    return None, box


def _is_thread(f: For) -> bool:
    return f.kind == "thread_binding" and (f.thread_binding or "").startswith("threadIdx")


def _per_warp(buffer: Buffer, accesses) -> tuple[list, dict] | None:
    """(box, axes) of the part of fragment ``buffer`` one warp touches, the index of each
    thread axis around its accesses taken as one variable (``axes``: thread tag -> that
    Var) across the sibling loops that bind it; None where the accesses do not all sit
    under loops of the same thread axes."""
    axes: dict[str, Var] = {}
    tags, unified = set(), []
    for indices, loops, conds in accesses:
        threads = [f for f in loops if _is_thread(f)]
        tags.add(frozenset((f.thread_binding, f.extent.value if isinstance(f.extent, IntImm) else None)
                           for f in threads))
        vmap = {f.loop_var: axes.setdefault(f.thread_binding, Var(f.thread_binding.replace(".", "_"),
                                                                  f.loop_var.dtype)) for f in threads}
        unified.append((tuple(substitute(i, vmap) for i in indices), tuple(f for f in loops if not _is_thread(f)),
                        tuple(substitute(c, vmap) for c in conds)))
    if not axes or len(tags) != 1:
        return None
    return _box(buffer, unified, [f for f in loops_around_all(unified) if f.kind == "thread_binding"]), axes


class _RebasePerWarp(_Rebase):
    """:class:`~.compact_buffers._Rebase` of one buffer whose box corner holds thread
    variables (:func:`_per_warp`'s ``axes``): each stands, at an access, for the loop
    around it that binds its axis."""

    def __init__(self, old: Buffer, new: Buffer, corner, axes: dict):
        super().__init__({id(old): (new, corner, None)}, [id(old)])
        self.axes = axes
        self.bound: dict = {}  # the axes' Vars -> the loop variables binding them here

    def visit_For(self, node: For):
        if not _is_thread(node) or node.thread_binding not in self.axes:
            return super().visit_For(node)
        var = self.axes[node.thread_binding]
        outer = self.bound.get(var)
        self.bound[var] = node.loop_var
        try:
            return super().visit_For(node)
        finally:
            self.bound[var] = outer

    def _corner(self, key: int) -> list:
        return [substitute(lo, self.bound) for lo in super()._corner(key)]


def _disjoint_per_copy(prefix, checked: list[For], box) -> bool:
    """The ``checked`` loops' iterations touch disjoint boxes in each copy (each block, each
    thread): checked with the free loops at their first and their last value."""
    free = [f for f, k in prefix if k == "free"]
    if not checked:
        return True
    if not all(isinstance(f.min, IntImm) and isinstance(f.extent, IntImm) for f in free):
        return False
    for end in (0, 1):
        vmap = {f.loop_var: const(f.min.value + end * (f.extent.value - 1), f.loop_var.dtype) for f in free}
        if not _disjoint(checked, [(canonical(substitute(lo, vmap)), n) for lo, n in box]):
            return False
    return True


class _Compact(Mutator):
    def __init__(self, aligns: dict):
        super().__init__()
        self.aligns = aligns  # id(buffer) -> {axis: (factor, offset)}
        self.threads: tuple[For, ...] = ()  # the enclosing threadIdx loops
        self.index = AccessIndex()  # each statement's accesses, found once
        self.relaxations: dict = {}  # _box's, kept across allocations

    def visit_For(self, node: For):
        if node.kind != "thread_binding" or not (node.thread_binding or "").startswith("threadIdx"):
            return self.generic_visit(node)
        outer = self.threads
        self.threads = outer + (node,)
        try:
            return self.generic_visit(node)
        finally:
            self.threads = outer

    def visit_Allocate(self, node: Allocate):
        body = self.visit(node.body)
        if node.buffer.scope in FRAGMENT_SCOPES:
            out = self._per_warp(node.buffer, body)
            if out is not None:
                return out
        plan = _plan(node.buffer, body, self.threads, self.aligns, self.index, self.relaxations)
        if plan is None:
            return node if body is node.body else Allocate(node.buffer, body)
        home, box = plan
        buf = node.buffer
        shape = tuple(const(e, s.dtype) for (_, e), s in zip(box, buf.shape))
        if home is None and all(a.value == b.value for a, b in zip(shape, buf.shape)):
            return node if body is node.body else Allocate(buf, body)
        aligns = self.aligns.get(id(buf))
        strides = () if aligns is None else \
            tuple(const(s, e.dtype) for s, e in zip(aligned_strides(tuple(e.value for e in shape), aligns), shape))
        new = Buffer(buf.name, shape, buf.dtype, buf.scope, strides)
        out = rebase(body, buf, new, [lo for lo, _ in box], home)
        return Allocate(new, out) if home is None else out


    def _per_warp(self, buf: Buffer, body):
        """The allocation of fragment ``buf`` shrunk to one warp's tiles, or None where
        :func:`_per_warp` finds none smaller than :func:`_plan`'s."""
        accesses = self.index.accesses(buf, body)
        found = _per_warp(buf, accesses) if accesses and not buf.strides else None
        if found is None:
            return None
        box, axes = found
        plan = _plan(buf, body, self.threads, self.aligns, self.index, self.relaxations)
        size = 1
        for _, e in box:
            size *= e
        planned = 1
        for _, e in (plan[1] if plan is not None else [(0, e.value) for e in buf.shape]):
            planned *= e
        if size >= planned:
            return None
        new = Buffer(buf.name, tuple(const(e, s.dtype) for (_, e), s in zip(box, buf.shape)), buf.dtype, buf.scope)
        return Allocate(new, _RebasePerWarp(buf, new, [lo for lo, _ in box], axes).visit(body))


def compact_gpu_buffers(func: PrimFunc) -> PrimFunc:
    """Shrink every shared and local allocation as the module docstring describes."""
    noted = func.attr(ALIGN_ATTR)
    aligns = {id(b): dict(entries) for b, entries in noted or ()}
    body = _Compact(aligns).visit(func.body)
    if noted is not None:
        func = PrimFunc(func.params, func.body, tuple((k, v) for k, v in func.attrs if k != ALIGN_ATTR))
    return func if body is func.body else func.with_body(body)


def note_storage_align(func: PrimFunc) -> PrimFunc:
    """Record the ``storage_align`` requests of the blocks (their ``buffer_dim_align``
    annotations) as the function attribute ``gpu.storage_align``: (buffer, ((axis,
    (factor, offset)), ...)) pairs, for :func:`compact_gpu_buffers` after the blocks are gone."""
    found: dict[int, tuple] = {}
    for node in pre_order_nodes(func.body):
        if isinstance(node, Block):
            for index, axis, factor, offset in dict(node.annotations).get(DIM_ALIGN, ()):
                buf = node.writes[index].buffer
                entry = found.setdefault(id(buf), (buf, {}))
                entry[1][axis] = (factor, offset)
    if not found:
        return func
    return func.with_attr(ALIGN_ATTR, tuple((b, tuple(sorted(a.items()))) for b, a in found.values()))
