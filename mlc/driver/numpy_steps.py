"""A te function run block by block through NumPy: what ``mlc.build``'s first tier runs.

A function as ``te.create_prim_func`` writes it is a root block (with the intermediate
buffers) over a sequence of loop nests, one block each. :func:`numpy_steps` reads each nest
as one NumPy step, or refuses the function (None):

* a contraction (:class:`Contraction`): ``out[s] = sum_r a[..] * b[..]``, started at zero,
  every index a block iterator over its whole axis: one ``np.matmul`` (BLAS) or ``np.einsum``
  (:func:`contraction` reads one nest);
* a map (:class:`Map`): a block of spatial iterators only that stores an expression at
  ``out[v0, v1, ...]``, each iterator once, over its whole axis; every load indexed by the
  iterators too (a permutation or a subset of them: a transpose, a broadcast), each shifted
  by a constant where the shifted range stays inside the axis (``A[i] + A[i + 1] + A[i + 2]``,
  a stencil: a view of each shifted slice, NumPy's spelling of it). Its expression is
  evaluated once over the whole grid of iterators, by the reference interpreter's expression
  evaluator (:class:`~mlc.backends.reference.expressions.ExprEvaluator`: its operators, casts,
  selects and math calls, with NumPy's semantics), so a map's results are the reference's
  (bit for bit but for math calls, which NumPy rounds within the op's tolerance);

so a matrix product with its epilogue (the course's ``mm_relu``: a contraction into an
intermediate, then ``max(Y, 0)``), a bias, a large element-wise function or a stencil. What reads an
index other than an iterator plus a constant (a diagonal, a stride, an index loaded), a reduction
other than a product's sum, an ``if``, a scheduled function: refused, built as usual.

>>> import numpy as np
>>> from mlc import te
>>> A = te.placeholder((4, 3), "float32", "A")
>>> B = te.placeholder((3, 2), "float32", "B")
>>> k = te.reduce_axis((0, 3), "k")
>>> Y = te.compute((4, 2), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), "Y")
>>> C = te.compute((4, 2), lambda i, j: te.max(Y[i, j] - 4, 0), "C")
>>> steps = numpy_steps(te.create_prim_func([A, B, C]))
>>> [type(s).__name__ for s in steps.steps]
['Contraction', 'Map']
>>> a, b, c = np.ones((4, 3), "float32"), np.full((3, 2), 2, "float32"), np.empty((4, 2), "float32")
>>> steps.run([a, b, c]); c
array([[2., 2.],
       [2., 2.],
       [2., 2.],
       [2., 2.]], dtype=float32)
"""
from __future__ import annotations

import string
from dataclasses import dataclass, replace

import numpy as np

from ..backends.reference.expressions import ExprEvaluator
from ..errors import MLCError
from ..ir import dtype as dt
from ..ir.buffer import Buffer
from ..ir.expr import Binary, BufferLoad, Call, Cast, FloatImm, IntImm, Not, Select, Var
from ..ir.ops import MATH_CALLS
from ..ir.functor import pre_order_nodes
from ..ir.tir import BlockRealize, BufferStore, For, PrimFunc, SeqStmt

__all__ = ["Contraction", "Map", "Steps", "contraction", "numpy_steps"]

#: The largest value an integer accumulator may reach for a contraction to compute its sums in
#: float64 (exact below 2**53) and equal the compiled kernel's: none of its sums may wrap.
_EXACT_INT = {"int32": 2 ** 31 - 1, "int64": 2 ** 53}


@dataclass(frozen=True)
class Contraction:
    """``out = einsum(spec, *operands)``: over buffers (a step of :func:`numpy_steps`), or over a
    PrimFunc's parameters by position (what :func:`contraction` answers)."""
    spec: str
    operands: tuple
    out: object
    multiply_adds: int
    #: the operands converted to float64 first (an integer product, exact there)
    through_float64: bool


@dataclass(frozen=True)
class Map:
    """``out[access] = value`` for every point of the grid of ``iterators`` (of ``extents``)."""
    out: Buffer
    access: tuple[Var, ...]
    iterators: tuple[Var, ...]
    extents: tuple[int, ...]
    value: object
    #: expression nodes evaluated, all points together
    work: int
    #: the buffers the expression loads
    reads: tuple[Buffer, ...] = ()


def contraction(func: PrimFunc) -> Contraction | None:
    """The contraction ``func`` computes, where it is one block ``out[s] = sum_r a[..] * b[..]``
    (started at zero) under a nest of serial loops, every index a block iterator ranging over
    its whole axis (no slice, no diagonal, no offset), the product in the output's dtype (or
    of its operands widened to it); None for anything else.

    >>> from mlc import te
    >>> A = te.placeholder((64, 32), "float32", "A")
    >>> B = te.placeholder((32, 16), "float32", "B")
    >>> k = te.reduce_axis((0, 32), "k")
    >>> C = te.compute((64, 16), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), "C")
    >>> c = contraction(te.create_prim_func([A, B, C]))
    >>> c.spec, c.operands, c.out, c.multiply_adds
    ('ac,cb->ab', (0, 1), 2, 32768)
    """
    body = func.body
    if not isinstance(body, BlockRealize) or body.block.alloc_buffers or body.block.init is not None:
        return None
    p = _product(body.block.body)
    if p is None:
        return None
    params = list(func.params)
    positions = [_position(params, b) for b in p.operands]
    out = _position(params, p.out)
    if None in positions or out is None or out in positions:
        return None
    return replace(p, operands=(positions[0], positions[1]), out=out)


class Steps:
    """A function's NumPy program: :meth:`run` takes the parameters' arrays (checked), runs the
    steps in order, the intermediate buffers allocated each run."""

    def __init__(self, func: PrimFunc, steps: list, temporaries: tuple[Buffer, ...]):
        self.func, self.steps, self.temporaries = func, steps, temporaries
        #: multiply-adds of the contractions plus expression nodes of the maps
        self.work = sum(s.multiply_adds if isinstance(s, Contraction) else s.work for s in steps)
        #: the maps' part of :attr:`work` (what NumPy runs slower than compiled code; a
        #: contraction runs at BLAS's speed)
        self.map_work = sum(s.work for s in steps if isinstance(s, Map))

    def run(self, arrays) -> None:
        env = {id(p): a for p, a in zip(self.func.params, arrays)}
        for b in self.temporaries:
            env[id(b)] = np.empty(tuple(int(n.value) for n in b.shape), b.dtype)
        with np.errstate(all="ignore"):  # (compiled code raises no floating-point warning)
            for step in self.steps:
                if isinstance(step, Map):
                    _run_map(step, env)
                else:
                    _run_product(step, env)


def numpy_steps(func: PrimFunc) -> Steps | None:
    """``func`` as NumPy steps, one per block (module docstring); None where a block is
    neither a contraction nor a map, or reads a buffer that is neither a parameter nor an
    intermediate of the root block."""
    root = func.body
    if not isinstance(root, BlockRealize) or root.block.init is not None or not _is_int(root.predicate, 1):
        return None
    temporaries = root.block.alloc_buffers
    if any(b.scope != "global" or b.strides or not all(isinstance(n, IntImm) for n in b.shape) for b in temporaries):
        return None
    known = {id(b) for b in (*func.params, *temporaries)}
    body = root.block.body
    nests = body.seq if isinstance(body, SeqStmt) else (body,)
    steps = []
    for nest in nests:
        step = _product(nest)
        if step is None:
            step = _map(nest)
        if step is None:
            return None
        used = (step.out, *step.operands) if isinstance(step, Contraction) else \
            (step.out, *(n.buffer for n in pre_order_nodes(step.value) if isinstance(n, BufferLoad)))
        if any(id(b) not in known for b in used):
            return None
        steps.append(step)
    return Steps(func, steps, temporaries) if steps else None


def _is_int(expr, value: int) -> bool:
    return isinstance(expr, IntImm) and expr.value == value


def _position(params, buffer):
    return next((n for n, p in enumerate(params) if p is buffer), None)


def _block_nest(stmt):
    """(the loops, the block) of a nest of serial loops from 0 around one block bound to them in
    order, each iterator over its loop's whole range; None otherwise."""
    loops = []
    while isinstance(stmt, For):
        if (stmt.kind != "serial" or stmt.thread_binding is not None or not _is_int(stmt.min, 0)
                or not isinstance(stmt.extent, IntImm)):
            return None
        loops.append(stmt)
        stmt = stmt.body
    if not isinstance(stmt, BlockRealize) or not _is_int(stmt.predicate, 1):
        return None
    block = stmt.block
    if (block.alloc_buffers or len(stmt.iter_values) != len(loops) or len(block.iter_vars) != len(loops)
            or any(v is not loop.loop_var for v, loop in zip(stmt.iter_values, loops))):
        return None
    for iv, loop in zip(block.iter_vars, loops):
        if not _is_int(iv.dom.min, 0) or not _is_int(iv.dom.extent, loop.extent.value):
            return None
    return loops, block


def _product(stmt) -> Contraction | None:
    """The contraction of one loop nest (:func:`contraction`'s conditions), or None."""
    nest = _block_nest(stmt)
    if nest is None:
        return None
    loops, block = nest
    extents, letters = {}, {}
    for iv, loop in zip(block.iter_vars, loops):
        if iv.iter_type not in ("spatial", "reduce") or len(letters) >= len(string.ascii_letters):
            return None
        extents[iv.var] = loop.extent.value
        letters[iv.var] = string.ascii_letters[len(letters)]
    spatial = [iv.var for iv in block.iter_vars if iv.iter_type == "spatial"]
    init, update = block.init, block.body
    if not (isinstance(init, BufferStore) and isinstance(update, BufferStore) and init.buffer is update.buffer):
        return None
    out = update.buffer
    value = update.value
    if not (isinstance(init.value, (IntImm, FloatImm)) and init.value.value == 0
            and isinstance(value, Binary) and value.op == "add" and isinstance(value.b, Binary)
            and value.b.op == "mul" and isinstance(value.a, BufferLoad) and value.a.buffer is out):
        return None
    out_access = _access(out, update.indices, extents)
    if (out_access is None or _access(out, init.indices, extents) != out_access
            or _access(out, value.a.indices, extents) != out_access or sorted(out_access, key=id) != sorted(spatial, key=id)):
        return None
    acc = out.dtype
    operands = [_operand(x, acc, extents) for x in (value.b.a, value.b.b)]
    if any(o is None for o in operands) or any(o[0] is out for o in operands):
        return None
    if {id(v) for _, access in operands for v in access} != {id(iv.var) for iv in block.iter_vars}:
        return None  # (an iterator no factor reads: a broadcast, or a sum of copies)
    through_float64 = np.dtype(acc).kind in "iu"
    if through_float64:
        bound = np.prod([extents[iv.var] for iv in block.iter_vars if iv.iter_type == "reduce"], dtype=object)
        for buffer, _ in operands:
            info = np.iinfo(buffer.dtype)
            bound *= max(abs(int(info.min)), int(info.max))
        if acc not in _EXACT_INT or bound > _EXACT_INT[acc]:
            return None
    spec = (",".join("".join(letters[v] for v in access) for _, access in operands)
            + "->" + "".join(letters[v] for v in out_access))
    work = int(np.prod(list(extents.values()), dtype=object))
    return Contraction(spec, (operands[0][0], operands[1][0]), out, work, through_float64)


def _map(stmt) -> Map | None:
    """The map of one loop nest: spatial iterators only, no init, one store at the iterators
    (each once), every load at whole-axis iterators, the output not read; None otherwise."""
    nest = _block_nest(stmt)
    if nest is None:
        return None
    loops, block = nest
    store = block.body
    if block.init is not None or not isinstance(store, BufferStore) or dt.lanes(store.value.dtype) != 1:
        return None
    if any(iv.iter_type != "spatial" for iv in block.iter_vars):
        return None
    extents = {iv.var: loop.extent.value for iv, loop in zip(block.iter_vars, loops)}
    out_access = _access(store.buffer, store.indices, extents)
    if out_access is None or len(out_access) != len(extents) or store.value.dtype != store.buffer.dtype:
        return None
    nodes, reads = 0, {}
    for node in pre_order_nodes(store.value):
        nodes += 1
        if isinstance(node, BufferLoad):
            reads.setdefault(id(node.buffer), node.buffer)
        if type(node) not in _MAP_NODES:
            return None
        if isinstance(node, BufferLoad):
            if node.buffer is store.buffer or _window(node.buffer, node.indices, extents) is None:
                return None
            # (a shifted index is a view's offset, as cheap as the iterator alone: counted as one node)
            nodes -= sum(_nodes(index) - 1 for index in node.indices)
        if (isinstance(node, Var) and node not in extents) or (isinstance(node, Call) and node.op not in MATH_CALLS):
            return None
    points = int(np.prod(list(extents.values()), dtype=object))
    return Map(store.buffer, out_access, tuple(extents), tuple(extents.values()), store.value, points * nodes,
               tuple(reads.values()))


def _access(buffer, indices, extents: dict) -> tuple | None:
    """The block iterators indexing ``buffer`` (one per axis, each over the whole axis, none
    twice), or None: a :func:`_window` of the whole buffer, unshifted."""
    window = _window(buffer, indices, extents)
    if window is None or any(index is not var or not _is_int(size, extents[var])
                             for index, (var, _), size in zip(indices, window, buffer.shape)):
        return None
    return tuple(indices)


def _window(buffer, indices, extents: dict) -> tuple | None:
    """((iterator, offset) per axis) of a load of ``buffer`` at ``indices`` in a map: each index
    an iterator plus a constant (``v``, ``v + c``, ``c + v``; no iterator twice) whose range
    ``[c, c + extent)`` lies inside the axis, so that the load is a view of a slice; None
    otherwise.

    >>> from mlc.ir.buffer import decl_buffer
    >>> i = Var("i", "int32")
    >>> A = decl_buffer((10,), "float32", "A")
    >>> _window(A, (i + 2,), {i: 8}), _window(A, (i + 3,), {i: 8}), _window(A, (i - 1,), {i: 8})
    (((i, 2),), None, None)
    """
    if (buffer.scope != "global" or buffer.strides or dt.lanes(buffer.dtype) != 1
            or len(indices) != len(buffer.shape)):
        return None
    window = []
    for index, size in zip(indices, buffer.shape):
        offset = 0
        if isinstance(index, Binary) and index.op == "add":
            var, const = (index.a, index.b) if isinstance(index.b, IntImm) else (index.b, index.a)
            if not isinstance(const, IntImm):
                return None
            index, offset = var, const.value
        if not (isinstance(index, Var) and index in extents and isinstance(size, IntImm)
                and 0 <= offset and offset + extents[index] <= size.value):
            return None
        window.append((index, offset))
    if len({id(v) for v, _ in window}) != len(window):
        return None
    return tuple(window)


def _nodes(expr) -> int:
    return sum(1 for _ in pre_order_nodes(expr))


def _operand(expr, acc: str, extents: dict):
    """(buffer, its access) of a factor of the product: a load in ``acc``'s dtype, or a load
    widened to it (a narrower float to a float, a narrower integer to an integer)."""
    if isinstance(expr, Cast) and expr.dtype == acc and isinstance(expr.value, BufferLoad):
        source = expr.value.buffer.dtype
        if not _widens(source, acc):
            return None
        expr = expr.value
    elif not isinstance(expr, BufferLoad) or expr.buffer.dtype != acc:
        return None
    access = _access(expr.buffer, expr.indices, extents)
    return None if access is None else (expr.buffer, access)


def _widens(source: str, acc: str) -> bool:
    try:
        src, dst = np.dtype(source), np.dtype(acc)
    except TypeError:
        return False
    if src.kind == "f" and dst.kind == "f":
        return src.itemsize <= dst.itemsize
    return src.kind in "iu" and dst.kind == "i" and np.can_cast(src, dst, "safe")


def _run_product(p: Contraction, env: dict) -> None:
    """``p`` through NumPy: a matrix product (of the operands or their transposes) through
    ``np.matmul`` into the output, else ``np.einsum``."""
    a, b, out = env[id(p.operands[0])], env[id(p.operands[1])], env[id(p.out)]
    if p.through_float64:
        a, b = a.astype(np.float64), b.astype(np.float64)
    else:
        a, b = a.astype(out.dtype, copy=False), b.astype(out.dtype, copy=False)
    product = _as_matmul(p.spec)
    if product is None:
        np.copyto(out, np.einsum(p.spec, a, b, optimize=True), casting="unsafe")
    else:
        _matmul(a, b, out, *product)


def _matmul(a, b, out, transpose_a: bool, transpose_b: bool, transpose_out: bool) -> None:
    """``out = (a or a.T) @ (b or b.T)``, or ``out.T`` that, through ``np.matmul``."""
    a, b = (a.T if transpose_a else a), (b.T if transpose_b else b)
    if transpose_out:
        a, b, out = b.T, a.T, out.T
    if out.dtype == a.dtype:
        np.matmul(a, b, out=out)
    else:
        np.copyto(out, np.matmul(a, b), casting="unsafe")


def _as_matmul(spec: str) -> tuple[bool, bool, bool] | None:
    """Whether ``spec`` (two operands) is a matrix product of ``(a or a.T) @ (b or b.T)``,
    written into ``out`` or ``out.T``: (transpose a, transpose b, transpose out); None
    otherwise.

    >>> _as_matmul("ac,cb->ab"), _as_matmul("ca,bc->ba"), _as_matmul("abc,cd->abd")
    ((False, False, False), (True, True, True), None)
    """
    ins, out = spec.split("->")
    a, b = ins.split(",")
    shared = set(a) & set(b)
    if not (len(a) == len(b) == len(out) == 2 and len(shared) == 1 and not shared & set(out)):
        return None
    (r,) = shared
    i, j = a.replace(r, ""), b.replace(r, "")
    if set(out) != {i, j}:
        return None
    return a != i + r, b != r + j, out != i + j


def _on_grid(array: np.ndarray, access: tuple, axes: dict) -> np.ndarray:
    """A view of ``array`` (indexed by the iterators ``access``) on the grid whose axis of each
    iterator ``axes`` gives: its axes in grid order, a length-1 axis for each iterator it lacks."""
    positions = [axes[v] for v in access]
    order = sorted(range(len(positions)), key=positions.__getitem__)
    missing = sorted(set(axes.values()) - set(positions))
    return np.expand_dims(array.transpose(order), missing) if missing else array.transpose(order)


class _Grid:
    """The lanes a map's expression runs on: every point of its grid at once (an ``if``'s both
    sides are evaluated where either side has a point: every load is in bounds)."""

    def __init__(self, env: dict):
        self.env = env

    def narrow(self, cond):
        return self if np.any(cond) else None

    def bind(self, var, value):
        return _Grid({**self.env, var: value})


class _GridEvaluator(ExprEvaluator):
    """The reference interpreter's expression evaluator over a map's whole grid."""

    what = "mlc.build's first tier"

    def __init__(self, arrays: dict, axes: dict, extents: tuple):
        super().__init__({})
        self.arrays, self.axes, self.extents = arrays, axes, extents

    def _var(self, e, ctx):
        value = ctx.env.get(e)
        if value is not None:
            return value
        shape = [1] * len(self.extents)
        shape[self.axes[e]] = self.extents[self.axes[e]]
        return np.arange(self.extents[self.axes[e]], dtype=e.dtype).reshape(shape)

    def _load(self, e, ctx):
        window = _window(e.buffer, e.indices, {v: self.extents[n] for v, n in self.axes.items()})
        view = self.arrays[id(e.buffer)][tuple(slice(c, c + self.extents[self.axes[v]]) for v, c in window)]
        return _on_grid(view, tuple(v for v, _ in window), self.axes)

    def _ramp(self, e, ctx):
        raise MLCError(f"{self.what}: a map has no vector expressions")

    _broadcast = _ramp

    def evaluate_into(self, e, out: np.ndarray):
        """``e`` over the grid, each step of its chain of binary operators (:meth:`_binary`)
        written into ``out`` (the output's view on the grid, sharing no memory with what
        ``e`` loads) where NumPy's ufunc for it computes in ``out``'s dtype from operands of
        its loop's types already (``casting="no"``: the values are those of the step without
        ``out``); so a map of 2^22 points allocates no temporary of that size, and its first
        touch of new memory is the output's. Returns the value: ``out`` itself where its last
        step was written there."""
        ctx = _Grid({})
        if not isinstance(e, Binary):
            return self.evaluate(e, ctx)
        steps = self.chain_steps(e)
        if any(logical or not isinstance(numpy, np.ufunc) for _, numpy, _, logical in steps):
            return self.evaluate(e, ctx)
        value, dtype = None, out.dtype
        for node, numpy, below, _ in steps:
            a = value if below == "a" else self.evaluate(node.a, ctx)
            b = value if below == "b" else self.evaluate(node.b, ctx)
            value = None
            if node.dtype == dtype:
                try:
                    value = numpy(a, b, out=out, casting="no")
                except TypeError:  # (a cast: the step as the evaluator computes it)
                    pass
            if value is None:
                value = numpy(a, b)
        return value


def _run_map(m: Map, env: dict) -> None:
    axes = {v: n for n, v in enumerate(m.iterators)}
    out = _on_grid(env[id(m.out)], m.access, axes)
    evaluator = _GridEvaluator(env, axes, m.extents)
    if any(np.may_share_memory(out, env[id(b)]) for b in m.reads):  # (one array passed twice)
        value = evaluator.evaluate(m.value, _Grid({}))
    else:
        value = evaluator.evaluate_into(m.value, out)
    if value is not out:
        np.copyto(out, np.broadcast_to(value, m.extents), casting="unsafe")


#: The expression nodes a map may hold (what the grid evaluator computes, on whole arrays).
_MAP_NODES = frozenset({Var, IntImm, FloatImm, Binary, Not, Select, Call, Cast, BufferLoad})
