"""Symbolic shapes: the variables a PrimFunc's buffer extents name, and their values at a call.

A parameter dimension is a constant, a variable (``n = te.var("n")``,
``placeholder((n, 128))``) or an integer expression of such variables
(``2 * n``). Each variable is *bound* by the first parameter dimension that is
exactly that variable (parameters in order, dimensions in order); every other
dimension is *checked* against the value it then has. Loop extents, reduction
extents and intermediate buffers may use the same variables.

>>> from mlc.ir import te
>>> n = te.var("n")
>>> A = te.placeholder((n, 4), name="A")
>>> B = te.compute((n, 4), lambda i, j: A[i, j] * 2, name="B")
>>> func = te.create_prim_func([A, B])
>>> [(v.name, p, d) for v, p, d in shape_vars(func.params)]
[('n', 0, 0)]
>>> bind_shapes("f", func.params, [(3, 4), (3, 4)])[n]
3
"""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import IRError, ShapeError
from .arith import Analyzer, eval_int, free_vars
from .buffer import Buffer
from .expr import IntImm, PrimExpr, Var, const
from .functor import Mutator
from .printer import expr_to_str
from .tir import PrimFunc

__all__ = ["shape_vars", "is_static", "bind_shapes", "check_shape_vars_bound", "dim_to_str", "shape_to_str",
           "size_params", "SIZE_PARAMS_ATTR", "size_sources", "SIZE_SOURCES_ATTR", "specialize"]


def is_static(params: Sequence[Buffer]) -> bool:
    """True when every parameter extent is a constant."""
    return all(isinstance(e, IntImm) for p in params for e in p.shape)


def shape_vars(params: Sequence[Buffer]) -> tuple[tuple[Var, int, int], ...]:
    """(variable, parameter index, dimension) of each symbolic variable, from the first
    parameter dimension that is exactly that variable, in that order."""
    seen, out = set(), []
    for n, p in enumerate(params):
        for d, e in enumerate(p.shape):
            if isinstance(e, Var) and id(e) not in seen:
                seen.add(id(e))
                out.append((e, n, d))
    return tuple(out)


#: The attribute in which lowering keeps a function's shape variables once its parameters
#: are flat (``flatten_buffers``): the variables' order is the calling convention.
SIZE_PARAMS_ATTR = "mlc.size_params"


#: The attribute in which lowering keeps where each of :data:`SIZE_PARAMS_ATTR` is read from,
#: ``((parameter, dimension), ...)``: a caller holding the arguments passes their sizes.
SIZE_SOURCES_ATTR = "mlc.size_sources"


def size_sources(func: PrimFunc) -> tuple[tuple[int, int], ...]:
    """(parameter, dimension) of each of :func:`size_params`: the argument extent a call
    passes as that size (the ``"mlc.size_sources"`` attribute of a lowered function)."""
    kept = func.attr(SIZE_SOURCES_ATTR)
    if kept is not None:
        return tuple(kept)
    return tuple((n, d) for _, n, d in shape_vars(func.params))


def size_params(func: PrimFunc) -> tuple[Var, ...]:
    """The shape variables a call of ``func`` passes, in order: the ``"mlc.size_params"``
    attribute of a lowered function, else those of :func:`shape_vars`."""
    kept = func.attr(SIZE_PARAMS_ATTR)
    if kept is not None:
        return tuple(kept)
    return tuple(v for v, _, _ in shape_vars(func.params))


def check_shape_vars_bound(where: str, params: Sequence[Buffer], exprs: Sequence[PrimExpr],
                           locals_: Sequence[Var] = ()) -> None:
    """Raise IRError when a parameter extent or one of ``exprs`` (loop and buffer extents)
    names a variable no parameter dimension binds: its value would be unknown at a call.
    ``locals_`` are variables the function defines itself (loop and block iterators)."""
    bound = {id(v) for v, _, _ in shape_vars(params)} | {id(v) for v in locals_}
    for p in params:
        for e in p.shape:
            for v in free_vars(e):
                if id(v) not in bound:
                    raise IRError(f"{where}: the extent `{dim_to_str(e)}` of parameter {p.name} uses "
                                  f"the variable {v.name}, which no parameter has as a whole "
                                  f"dimension, so its value cannot be read from the arrays; give "
                                  f"some parameter the dimension {v.name} itself")
    for e in exprs:
        for v in free_vars(e):
            if id(v) not in bound:
                raise IRError(f"{where}: the extent `{dim_to_str(e)}` uses the variable {v.name}, "
                              f"which is not a dimension of any parameter; add a parameter with "
                              f"the dimension {v.name} (a te.var must be bound by an input or output shape)")


def dim_to_str(e: PrimExpr) -> str:
    if isinstance(e, IntImm):
        return str(e.value)
    return expr_to_str(e)


def shape_to_str(shape: Sequence[PrimExpr]) -> str:
    return "(" + ", ".join(dim_to_str(e) for e in shape) + ("," if len(shape) == 1 else "") + ")"


def bind_shapes(name: str, params: Sequence[Buffer], shapes: Sequence[tuple[int, ...]]) -> dict[Var, int]:
    """The value of each shape variable for arrays of ``shapes`` (one per parameter,
    already checked for rank); ShapeError naming the parameter, the dimension and both
    sizes when a dimension disagrees with the value bound from an earlier one."""
    env: dict[int, int] = {}
    binder: dict[int, str] = {}
    out: dict[Var, int] = {}
    for v, n, d in shape_vars(params):
        env[id(v)] = shapes[n][d]
        binder[id(v)] = f"dimension {d} of {params[n].name}"
        out[v] = shapes[n][d]
    for p, shape in zip(params, shapes):
        for d, (e, size) in enumerate(zip(p.shape, shape)):
            if isinstance(e, IntImm):
                if e.value != size:
                    raise ShapeError(f"{name}(): argument {p.name} must have shape "
                                     f"{shape_to_str(p.shape)}, got {tuple(shape)} (dimension {d} "
                                     f"must be {e.value})")
                continue
            try:
                expected = eval_int(e, env)
            except KeyError:
                raise ShapeError(f"{name}(): the extent `{dim_to_str(e)}` of argument {p.name} "
                                 "names a variable that no parameter dimension binds") from None
            if expected != size:
                names = ", ".join(f"{v.name}={env[id(v)]} (from {binder[id(v)]})" for v in free_vars(e))
                raise ShapeError(f"{name}(): argument {p.name} has shape {tuple(shape)} but its "
                                 f"dimension {d} is `{dim_to_str(e)}` = {expected}, with {names}; "
                                 f"pass arrays whose sizes agree (shape {shape_to_str(p.shape)})")
    for v, size in out.items():
        if size >= 2**31:
            raise ShapeError(f"{name}(): {v.name} = {size} does not fit the int32 index type; "
                             "each dimension must be below 2**31")
    return out


class _Specialize(Mutator):
    def __init__(self, values: dict[Var, int]):
        self.vmap = {v: const(n, v.dtype) for v, n in values.items()}
        self.buffers: dict[int, Buffer] = {}
        self.analyzer = Analyzer()

    def visit_Var(self, var: Var):
        return self.vmap.get(var, var)

    def visit_buffer(self, buffer: Buffer) -> Buffer:
        new = self.buffers.get(id(buffer))
        if new is None:
            shape = tuple(self.analyzer.simplify(self.visit(e)) for e in buffer.shape)
            strides = tuple(self.analyzer.simplify(self.visit(e)) for e in buffer.strides)
            same = all(a is b for a, b in zip((*shape, *strides), (*buffer.shape, *buffer.strides)))
            new = buffer if same else Buffer(buffer.name, shape, buffer.dtype, buffer.scope, strides)
            self.buffers[id(buffer)] = new
        return new


def specialize(func: PrimFunc, values: dict[Var, int]) -> PrimFunc:
    """``func`` with each shape variable of ``values`` replaced by its constant, in the
    body and in every buffer's shape (TVM's ``PrimFunc.specialize``)."""
    if not values:
        return func
    mutator = _Specialize(values)
    params = tuple(mutator.visit_buffer(p) for p in func.params)
    return PrimFunc(params, mutator.visit(func.body), func.attrs)
