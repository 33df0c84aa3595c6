"""Tensor expressions: describe tensor programs as math, then turn them into TensorIR.

>>> A = placeholder((128, 128), "float32", name="A")
>>> B = placeholder((128, 128), "float32", name="B")
>>> k = reduce_axis((0, 128), name="k")
>>> Y = compute((128, 128), lambda i, j: sum(A[i, k] * B[k, j], axis=k), name="Y")
>>> C = compute((128, 128), lambda i, j: max(Y[i, j], 0), name="C")
>>> func = create_prim_func([A, B, C])
>>> [b.name for b in func.params], [b.name for b in func.root_block.alloc_buffers]
(['A', 'B', 'C'], ['Y'])
"""
from __future__ import annotations

import builtins
import inspect
import types
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import IRError, ShapeError
from . import dtype as dt
from . import expr as _e
from .analysis.census import contains
from .arith.linear import split_offset
from .buffer import Buffer, BufferRegion, decl_buffer
from .expr import (BufferLoad, CommReducer, IntImm, IterVar, PrimExpr, Range, Reduce, Var,
                   const, convert)
from .functor import post_order_dag, pre_order_nodes, substitute
from .names import unique_name
from .node import node
from .arith.linear import expr_key
from .shape_vars import check_shape_vars_bound
from .tir import Block, BlockRealize, BufferStore, For, IfThenElse, PrimFunc, seq

__all__ = [
    "Tensor", "PlaceholderOp", "ComputeOp", "placeholder", "compute", "reduce_axis",
    "comm_reducer", "sum", "max", "min", "lowest", "highest", "create_prim_func", "if_then_else", "select",
    "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "erf", "sin", "cos", "abs", "pow",
    "floor", "ceil", "round", "expm1", "log1p", "isnan", "isfinite", "isinf", "floordiv",
    "floormod", "truncdiv", "truncmod", "const", "var", "all", "any", "unique_name", "KEEP_TAG",
    "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "log2", "log10",
    "atan2", "hypot", "copysign", "nextafter", "erfc", "cbrt", "complex", "real", "imag", "conj",
    "erfinv", "threefry2x32", "fma",
]

# Math and constructors re-exported so a te program needs one import.
from .expr import (abs, ceil, cos, erf, exp, expm1, floor, floordiv, floormod,  # noqa: E402,F401
                   if_then_else, isfinite, isinf, isnan, log, log1p, pow, round, rsqrt,
                   select, sigmoid, sin, sqrt, tanh, truncdiv, truncmod)
from .expr import (acos, acosh, asin, asinh, atan, atan2, atanh, copysign, cosh, hypot,  # noqa: E402,F401
                   cbrt, erfc, erfinv, fma, log2, log10, nextafter, sinh, tan, threefry2x32)
from .expr import complex, conj, imag, real  # noqa: E402,F401,A004 - te.complex(re, im) as T.complex


@node(repr=True)
class PlaceholderOp:
    """An input tensor."""
    name: str


@node(repr=True)
class ComputeOp:
    """``outputs[v][axis] = body[v]`` for every point of ``axis``."""
    name: str
    axis: tuple[IterVar, ...]
    body: tuple[PrimExpr, ...]
    inputs: tuple[Tensor, ...]
    tag: str = ""

    @property
    def reduce_axis(self) -> tuple[IterVar, ...]:
        first = self.body[0]
        return first.axis if isinstance(first, Reduce) else ()


class Tensor:
    """The result of :func:`placeholder` or :func:`compute`; index it to read it.

    ``shape`` is a tuple of ints, with a :class:`~mlc.ir.expr.PrimExpr` (a ``te.var``)
    for each symbolic dimension; ``buffer`` is the Buffer it lowers to.
    """

    __slots__ = ("op", "buffer", "value_index", "__weakref__")

    def __init__(self, op, buffer: Buffer, value_index: int = 0):
        self.op, self.buffer, self.value_index = op, buffer, value_index

    @property
    def name(self) -> str:
        return self.buffer.name

    @property
    def shape(self) -> tuple:
        return tuple(e.value if isinstance(e, IntImm) else e for e in self.buffer.shape)

    @property
    def dtype(self) -> str:
        return self.buffer.dtype

    @property
    def ndim(self) -> int:
        return self.buffer.ndim

    def __getitem__(self, indices) -> BufferLoad:
        if _capture_stack:
            _capture_stack[-1].append(self)
        return self.buffer[indices]

    def __call__(self, *indices) -> BufferLoad:
        """``A(i, k)``: the same read as ``A[i, k]`` (the course writes both)."""
        return self[indices]

    def __repr__(self) -> str:
        return f"Tensor({self.name}, shape={self.shape}, dtype={self.dtype})"


_capture_stack: list[list[Tensor]] = []


def _shape(shape, what: str) -> tuple:
    """``shape`` as a tuple of ints and symbolic extents (integer PrimExprs, as ``te.var``s)."""
    if isinstance(shape, (int, np.integer, PrimExpr)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise ShapeError(f"{what}: shape must be a tuple of ints or te.var's, got {shape!r}")
    out = []
    for extent in shape:
        if isinstance(extent, PrimExpr) and not isinstance(extent, IntImm):
            if not dt.is_int(extent.dtype) or dt.is_vector(extent.dtype):
                raise ShapeError(f"{what}: a symbolic extent must be an integer expression, got "
                                 f"{extent.dtype} `{extent!r}` in shape {tuple(shape)!r}")
            out.append(extent if extent.dtype == dt.INDEX else _e.cast(extent, dt.INDEX))
            continue
        if isinstance(extent, IntImm):
            extent = extent.value
        if isinstance(extent, bool) or not isinstance(extent, (int, np.integer)):
            raise ShapeError(f"{what}: shape must be a tuple of ints or te.var's, got {tuple(shape)!r}")
        if extent < 0:
            raise ShapeError(f"{what}: negative extent in shape {tuple(shape)!r}")
        out.append(int(extent))
    return tuple(out)


def placeholder(shape, dtype="float32", name: str = "placeholder") -> Tensor:
    """An input tensor of ``shape`` and ``dtype``."""
    shape = _shape(shape, f"placeholder {name}")
    return Tensor(PlaceholderOp(name), decl_buffer(shape, dtype, name))


def var(name: str = "v", dtype: str = "int32") -> Var:
    """A scalar variable: a symbolic extent in shapes (``n = te.var("n")``,
    ``placeholder((n, 128))``) or a name in hand-written expressions.

    A PrimFunc whose buffers have symbolic extents runs for any size: each
    variable is bound from the first argument dimension it is, and checked
    against every other (see ``docs/ir-semantics.md``, symbolic shapes).
    """
    return Var(name, dt.canonical(dtype))


def reduce_axis(dom, name: str = "rv") -> IterVar:
    """A reduction axis over ``range(*dom)``: ``reduce_axis((0, 128), "k")``."""
    if isinstance(dom, Range):
        rng = dom
    else:
        if not isinstance(dom, (tuple, list)) or len(dom) != 2:
            raise ShapeError(f"reduce_axis {name}: dom must be (begin, end), got {dom!r}")
        begin, end = (convert(x, dt.INDEX) for x in dom)
        rng = Range(begin, end - begin)
    return IterVar(Var(name, dt.INDEX), rng, "reduce")


#: The ``tag`` of a compute stage that the graph's inliner (``inline_stages``) leaves a
#: buffer of its own, as a convolution's padded input.
KEEP_TAG = "keep"


def compute(shape, fcompute: Callable, name: str = "compute", tag: str = ""):
    """A tensor whose element at ``(i, j, ...)`` is ``fcompute(i, j, ...)``.

    The loop axes take the names of ``fcompute``'s parameters. When
    ``fcompute`` returns a tuple, one tensor per entry is returned (one block
    computes them all).
    """
    shape = _shape(shape, f"compute {name}")
    names = _axis_names(fcompute, len(shape), name)
    axis = tuple(IterVar(Var(n, dt.INDEX), Range.from_extent(e), "spatial") for n, e in zip(names, shape))
    _capture_stack.append([])
    try:
        result = fcompute(*(iv.var for iv in axis))
    finally:
        captured = _capture_stack.pop()
    bodies = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if not bodies:
        raise IRError(f"compute {name}: fcompute returned an empty tuple")
    bodies = tuple(_check_body(b, name) for b in bodies)
    if len(bodies) > 1 and builtins.any(isinstance(b, Reduce) for b in bodies):
        raise IRError(f"compute {name}: a reduction cannot be one of several outputs; "
                      "write each reduction in its own compute")
    inputs = tuple({id(t): t for t in captured}.values())
    op = ComputeOp(name, axis, bodies, inputs, tag)
    outs = [Tensor(op, decl_buffer(shape, b.dtype, name if len(bodies) == 1 else f"{name}_v{n}"), n)
            for n, b in enumerate(bodies)]
    return outs[0] if len(outs) == 1 else outs


def _axis_names(fcompute, ndim: int, name: str) -> list[str]:
    names, star_first = _parameters(fcompute)
    if star_first:
        return [f"i{n}" for n in range(ndim)]
    if len(names) != ndim:
        raise ShapeError(f"compute {name}: the shape has {ndim} dimension(s) but fcompute "
                         f"takes {len(names)} index argument(s)")
    return list(names)


def _parameters(fcompute) -> tuple[tuple[str, ...], bool]:
    """(the names of ``fcompute``'s parameters, whether the first is ``*args``), as
    :func:`inspect.signature` gives them; for a plain function (no ``__signature__`` or
    ``__wrapped__`` of its own) remembered by its code object, which alone decides them (every
    stage asks: a lambda made afresh per stage shares its code)."""
    if type(fcompute) is not types.FunctionType or {"__signature__", "__wrapped__"} & fcompute.__dict__.keys():
        return _signature_parameters(fcompute)
    code = fcompute.__code__
    got = _PARAMETERS.get(code)
    if got is None:
        if len(_PARAMETERS) >= _PARAMETERS_KEPT:  # (code made at run time, by exec: bounded)
            _PARAMETERS.clear()
        got = _PARAMETERS[code] = _signature_parameters(fcompute)
    return got


#: code object -> :func:`_parameters` of the plain functions of that code; at most
#: :data:`_PARAMETERS_KEPT` of them.
_PARAMETERS: dict = {}
_PARAMETERS_KEPT = 4096


def _signature_parameters(fcompute) -> tuple[tuple[str, ...], bool]:
    try:
        params = list(inspect.signature(fcompute).parameters.values())
    except (TypeError, ValueError):
        params = []
    return tuple(p.name for p in params), bool(params) and params[0].kind == inspect.Parameter.VAR_POSITIONAL


def _check_body(body, name: str) -> PrimExpr:
    if isinstance(body, BufferRegion) or not isinstance(body, (PrimExpr, IterVar, int, float, bool, np.generic)):
        raise IRError(f"compute {name}: fcompute must return a scalar expression, got {body!r}")
    body = convert(body)
    nested = [n for n in pre_order_nodes(body) if isinstance(n, Reduce)] if contains(body, Reduce) else []
    if nested and (nested[0] is not body or len(nested) > 1):
        raise IRError(f"compute {name}: a reduction (te.sum/max/min) must be the whole body, "
                      "not part of a larger expression; compute it in its own stage, then "
                      "use it in a second compute")
    return body


# ------------------------------------------------------------------ reducers

def comm_reducer(fcombine: Callable, fidentity: Callable, name: str = "reduce"):
    """Define a commutative reducer, as ``te.comm_reducer`` in TVM.

    ``fcombine(x, y)`` combines two values, ``fidentity(dtype)`` returns the
    identity. The result is called like ``te.sum``:

    >>> prod = comm_reducer(lambda x, y: x * y, lambda t: const(1, t), name="prod")
    >>> k = reduce_axis((0, 4), "k")
    >>> A = placeholder((4,), "float32", "A")
    >>> prod(A[k], axis=k).combiner.name
    'prod'
    """

    def reducer(expr, axis=None, where=None):
        if axis is None:
            raise IRError(f"{name}: pass the reduction axis, e.g. te.{name}(expr, axis=k)")
        return _reduce(name, fcombine, fidentity, expr, axis, where)

    reducer.__name__ = reducer.__qualname__ = name
    reducer.__doc__ = f"Reduce ``expr`` over ``axis`` with the {name} combiner."
    return reducer


def _reduce(name, fcombine, fidentity, expr, axis, where) -> Reduce:
    expr = convert(expr)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    if not axes or not builtins.all(isinstance(a, IterVar) and a.iter_type == "reduce" for a in axes):
        raise IRError(f"{name}: axis must be reduce_axis IterVars, got {axis!r}")
    lhs, rhs = Var("x", expr.dtype), Var("y", expr.dtype)
    result = convert(fcombine(lhs, rhs), expr.dtype)
    identity = convert(fidentity(expr.dtype), expr.dtype)
    if result.dtype != expr.dtype or identity.dtype != expr.dtype:
        raise IRError(f"{name}: combiner and identity must keep dtype {expr.dtype}")
    cond = None if where is None else _e.cast(where, "bool")
    return Reduce(CommReducer(name, lhs, rhs, result, identity), expr, axes, cond, expr.dtype)


def lowest(dtype: str) -> PrimExpr:
    """The identity of ``max``: -inf, the smallest integer, or False."""
    if dt.is_float(dtype):
        return const(-np.inf, dtype)
    return const(0 if dtype == "bool" else np.iinfo(dtype).min, dtype)


def highest(dtype: str) -> PrimExpr:
    """The identity of ``min``: +inf, the largest integer, or True."""
    if dt.is_float(dtype):
        return const(np.inf, dtype)
    return const(1 if dtype == "bool" else np.iinfo(dtype).max, dtype)


_sum = comm_reducer(lambda x, y: x + y, lambda t: const(0, t), name="sum")
_max = comm_reducer(lambda x, y: _e.max(x, y), lowest, name="max")
_min = comm_reducer(lambda x, y: _e.min(x, y), highest, name="min")


def sum(expr, axis=None, where=None) -> Reduce:  # noqa: A001
    """Sum ``expr`` over the reduce ``axis`` (one IterVar or a list)."""
    return _sum(expr, axis, where)


def max(expr, axis=None, where=None):  # noqa: A001
    """Reduce with max over ``axis``; ``max(a, b)`` without an axis is elementwise."""
    if axis is not None and not isinstance(axis, (IterVar, list, tuple)):
        return _e.max(expr, axis)
    _refuse_empty("max", "maximum", axis)
    return _max(expr, axis, where)


def min(expr, axis=None, where=None):  # noqa: A001
    """Reduce with min over ``axis``; ``min(a, b)`` without an axis is elementwise."""
    if axis is not None and not isinstance(axis, (IterVar, list, tuple)):
        return _e.min(expr, axis)
    _refuse_empty("min", "minimum", axis)
    return _min(expr, axis, where)


def _refuse_empty(name: str, numpy_name: str, axis) -> None:
    """max and min have no identity: over an empty axis they are an error, as in NumPy."""
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    for a in axes:
        if isinstance(a, IterVar) and isinstance(a.dom.extent, IntImm) and a.dom.extent.value == 0:
            raise ShapeError(f"te.{name}: zero-size array to reduction operation {numpy_name} which "
                             f"has no identity (reduce axis {a.var.name} has extent 0); reduce over "
                             "a non-empty axis, or use te.comm_reducer with an identity")


def all(*conds) -> PrimExpr:  # noqa: A001
    """Logical and of bool expressions."""
    out = const(True, "bool")
    for c in conds:
        out = _e.logical_and(out, c)
    return out


def any(*conds) -> PrimExpr:  # noqa: A001
    """Logical or of bool expressions."""
    out = const(False, "bool")
    for c in conds:
        out = _e.logical_or(out, c)
    return out


# ------------------------------------------------------------ create_prim_func

def create_prim_func(args: Sequence[Tensor]) -> PrimFunc:
    """Lower te tensors to a PrimFunc whose parameters are ``args`` in order.

    Every compute stage reachable from the arguments becomes a loop nest over
    one block; stages that are not arguments become intermediate buffers.
    """
    if not isinstance(args, (list, tuple)) or not builtins.all(isinstance(t, Tensor) for t in args):
        raise IRError("create_prim_func takes a list of te tensors (placeholders and computes)")
    params = [t.buffer for t in args]
    if len({id(b) for b in params}) != len(params):
        raise IRError("create_prim_func: a tensor appears twice in the argument list")
    ops = _topo_ops(args)
    param_ids = {id(b) for b in params}
    placeholders = [t for t in _all_tensors(ops, args) if isinstance(t.op, PlaceholderOp)]
    missing = [t.name for t in placeholders if id(t.buffer) not in param_ids]
    if missing:
        raise IRError(f"create_prim_func: input tensor(s) {missing} are read but not in the "
                      "argument list; pass every placeholder the outputs depend on")
    stages, allocs, block_names = [], [], set()
    outputs_of = _outputs_by_op(ops, args)
    for op in ops:
        if isinstance(op, PlaceholderOp):
            continue
        outs = outputs_of[id(op)]
        for t in outs:
            if id(t.buffer) not in param_ids:
                allocs.append(t.buffer)
        stages.append(_lower_compute(op, [t.buffer for t in outs], unique_name(op.name, block_names)))
    extents = [iv.dom.extent for op in ops if isinstance(op, ComputeOp)
               for iv in (*op.axis, *op.reduce_axis)]
    extents += [iv.dom.min for op in ops if isinstance(op, ComputeOp) for iv in op.reduce_axis]
    check_shape_vars_bound("create_prim_func", params, [*extents, *(e for b in allocs for e in b.shape)])
    root = Block("root", (), (), (), seq(*stages), alloc_buffers=tuple(allocs))
    body = BlockRealize((), const(True, "bool"), root)
    return PrimFunc(tuple(params), body, (("global_symbol", "main"), ("tir.noalias", True)))


def _topo_ops(args: Sequence[Tensor]) -> list:
    """Producer-first order of the ops reachable from ``args`` (explicit stack)."""
    return list(post_order_dag([t.op for t in args], lambda op: [t.op for t in getattr(op, "inputs", ())]))


def _all_tensors(ops, args) -> list[Tensor]:
    seen = {id(t.buffer): t for t in args}
    for op in ops:
        for t in getattr(op, "inputs", ()):
            seen.setdefault(id(t.buffer), t)
    return list(seen.values())


def _outputs_by_op(ops, args) -> dict[int, list[Tensor]]:
    """The output tensors of each compute op, by value index, found from all references."""
    found: dict[int, dict[int, Tensor]] = {}
    for t in _all_tensors(ops, args):
        found.setdefault(id(t.op), {})[t.value_index] = t
    out = {}
    for op in ops:
        if isinstance(op, ComputeOp):
            by_index = found.get(id(op), {})
            tensors = []
            for n, body in enumerate(op.body):
                t = by_index.get(n)
                if t is None:  # an output nobody reads: give it a scratch buffer
                    shape = tuple(iv.dom.extent for iv in op.axis)
                    t = Tensor(op, decl_buffer(shape, body.dtype, f"{op.name}_v{n}"), n)
                tensors.append(t)
            out[id(op)] = tensors
    return out




def _lower_compute(op: ComputeOp, out_buffers: list[Buffer], block_name: str):
    """One loop nest and block for a compute op (its axes, then its reduce axes)."""
    axes = list(op.axis) + list(op.reduce_axis)
    loop_vars = [Var(iv.var.name, dt.INDEX) for iv in axes]
    block_vars = [IterVar(Var("v" + iv.var.name, dt.INDEX), iv.dom, iv.iter_type) for iv in axes]
    vmap = {iv.var: bv.var for iv, bv in zip(axes, block_vars)}
    spatial_idx = tuple(bv.var for bv in block_vars[:len(op.axis)])
    init = None
    first = op.body[0]
    if isinstance(first, Reduce):
        out = out_buffers[0]
        source = substitute(first.source, vmap)
        update = BufferStore(out, first.combiner.combine(BufferLoad(out, spatial_idx, out.dtype), source), spatial_idx)
        reads_from = [source]
        if first.condition is not None:
            cond = substitute(first.condition, vmap)
            update = IfThenElse(cond, update)
            reads_from.append(cond)
        body = update
        init = BufferStore(out, first.combiner.identity, spatial_idx)
    else:
        values = [substitute(b, vmap) for b in op.body]
        body = seq(*(BufferStore(buf, v, spatial_idx) for buf, v in zip(out_buffers, values)))
        reads_from = values
    reads = access_regions(reads_from)
    writes = tuple(BufferRegion(buf, tuple(Range(v, const(1, dt.INDEX)) for v in spatial_idx))
                   for buf in out_buffers)
    block = Block(block_name, tuple(block_vars), reads, writes, body, init)
    stmt = BlockRealize(tuple(loop_vars), const(True, "bool"), block)
    for lv, iv in reversed(list(zip(loop_vars, axes))):
        stmt = For(lv, iv.dom.min, iv.dom.extent, "serial", stmt)
    return stmt


def access_regions(exprs) -> tuple[BufferRegion, ...]:
    """The regions of every buffer the expressions load, in order of first use.

    Equal indices give a point; indices that differ by constants give the
    covering range; anything else covers the whole dimension.
    """
    loads: dict[int, list[BufferLoad]] = {}
    order: list[Buffer] = []
    for e in exprs:
        for node in pre_order_nodes(e):
            if isinstance(node, BufferLoad):
                if id(node.buffer) not in loads:
                    loads[id(node.buffer)] = []
                    order.append(node.buffer)
                loads[id(node.buffer)].append(node)
    regions = []
    for buf in order:
        accesses = loads[id(buf)]
        dims = tuple(_cover([a.indices[d] for a in accesses], buf.shape[d]) for d in range(buf.ndim))
        regions.append(BufferRegion(buf, dims))
    return tuple(regions)


def _cover(indices: list[PrimExpr], extent: PrimExpr) -> Range:
    base, offset = split_offset(indices[0])
    offsets = [offset]
    for idx in indices[1:]:
        b, o = split_offset(idx)
        if (b is None) != (base is None) or (b is not None and expr_key(b) != expr_key(base)):
            return Range(const(0, dt.INDEX), extent)
        offsets.append(o)
    lo, hi = builtins.min(offsets), builtins.max(offsets)
    return Range(base + lo if base is not None else const(lo, dt.INDEX), const(hi - lo + 1, dt.INDEX))
