"""Derivatives of tensor expressions: reverse mode (``gradient``), forward mode (``jvp``),
and a batch axis added to every stage (``add_batch_axis``), as te programs.

What ``te.gradient`` is in TVM: given the stages that compute ``outputs``
from placeholders, build the stages that compute the derivatives. Each
stage's body is differentiated symbolically (arithmetic, math calls,
``select``/``if_then_else``, casts); a reduction is a sum (its terms each get
the head) or a max/min (its arg-extrema get the head, shared evenly among
ties, as ``np.max``'s gradient in mlc.grad). Reverse mode must send each
read's contribution back to the element read: for ``Y[i] = f(X[e(i, k)])``,
``dX[j] = sum of dY[i] * f'(...) over the (i, k) with e(i, k) == j``. The
index equations are solved where the indices are affine in the axes (``i``,
``i + k - 1``, ``2 * i + k``): a solved axis is replaced by its solution,
under the condition that the solution lies in its range (and divides, for a
coefficient other than 1); what is left is summed over with the condition
``e(i, k) == j``, correct for any index, fast where the indices are simple.

>>> from mlc import te
>>> X = te.placeholder((3, 4), "float64", name="X")
>>> k = te.reduce_axis((0, 4), name="k")
>>> Y = te.compute((3,), lambda i: te.sum(te.exp(X[i, k]), axis=k), name="Y")
>>> dY = te.placeholder((3,), "float64", name="dY")
>>> [dX] = gradient([Y], [X], [dY])
>>> dX.shape, type(dX.op.body[0]).__name__     # dX[i, k] = dY[i] * exp(X[i, k]): no sum left
((3, 4), 'Binary')
"""
from __future__ import annotations

import builtins
import math

from ..errors import MLCError
from . import dtype as dt
from . import expr as _e
from .arith.linear import expr_key, uses_any
from .arith.rewrite import linear
from .expr import (Binary, BufferLoad, Call, Cast, FloatImm, IntImm, IterVar, Not, PrimExpr, Reduce, Select,
                   Var, and_all, const)
from .functor import Mutator, post_order_dag, pre_order_nodes, substitute
from .te import ComputeOp, PlaceholderOp, Tensor, compute, reduce_axis
from .te import sum as _te_sum_op

__all__ = ["gradient", "jvp", "add_batch_axis", "stages_of", "TeAutodiffError"]


class TeAutodiffError(MLCError):
    """A tensor expression has a part that cannot be differentiated (an unsupported
    reduction or math call)."""


# ------------------------------------------------------------------ stages

def stages_of(outputs) -> list[Tensor]:
    """Every tensor ``outputs`` depend on (placeholders included), producers first."""
    return list(post_order_dag(list(outputs), lambda t: list(getattr(t.op, "inputs", ())),
                               key=lambda t: id(t.buffer)))


def _body(t: Tensor) -> PrimExpr:
    return t.op.body[t.value_index]


def _is_float(dtype: str) -> bool:
    return dt.is_float(dtype)


class _Reader(Mutator):
    """Rewrites loads (``rewrite(load) -> expr or None``) and variables, reading tensors
    through ``Tensor[...]`` so that the compute being built records them as inputs."""

    def __init__(self, tensors: dict, vmap=None, rewrite=None):
        self.tensors, self.vmap, self.rewrite = tensors, vmap or {}, rewrite

    def visit_Var(self, var):
        return self.vmap.get(var, var)

    def visit_BufferLoad(self, load: BufferLoad):
        indices = tuple(self.visit(i) for i in load.indices)
        if self.rewrite is not None:
            new = self.rewrite(load, indices)
            if new is not None:
                return new
        tensor = self.tensors.get(id(load.buffer))
        if tensor is None:
            raise TeAutodiffError(f"te autodiff: buffer {load.buffer.name} is read but is no tensor of the program")
        return tensor[indices]


# -------------------------------------------------------- scalar derivatives

def _c(value, dtype: str) -> PrimExpr:
    return const(value, dtype)


def _add(a, b):
    if a is None:
        return b
    return a if b is None else a + b


def _neg(a):
    return None if a is None else _c(0, a.dtype) - a


def _scale(d, factor):
    """``d * factor`` (None: zero)."""
    if d is None:
        return None
    if isinstance(factor, FloatImm) and factor.value == 1.0:
        return d
    return d * factor


def _call(name, *args):
    return _e.call(name, *args)


def _sign(u):
    one, zero = _c(1, u.dtype), _c(0, u.dtype)
    return _e.select(u > zero, one, _e.select(u < zero, _c(-1, u.dtype), zero))


def _call_derivatives(e: Call) -> list:
    """The partial derivative of math call ``e`` by each argument (None: zero)."""
    name, args, y = e.op, e.args, e
    u = args[0]
    c = lambda v: _c(v, e.dtype)  # noqa: E731
    one = c(1)
    unary = {
        "exp": lambda: y, "expm1": lambda: y + one, "log": lambda: one / u, "log1p": lambda: one / (one + u),
        "log2": lambda: one / (u * c(math.log(2))), "log10": lambda: one / (u * c(math.log(10))),
        "sqrt": lambda: c(0.5) / y, "rsqrt": lambda: c(-0.5) * y / u, "cbrt": lambda: one / (c(3) * y * y),
        "tanh": lambda: one - y * y, "sigmoid": lambda: y * (one - y),
        "erf": lambda: c(2 / math.sqrt(math.pi)) * _call("exp", _c(0, u.dtype) - u * u),
        "erfc": lambda: c(-2 / math.sqrt(math.pi)) * _call("exp", _c(0, u.dtype) - u * u),
        "erfinv": lambda: c(math.sqrt(math.pi) / 2) * _call("exp", y * y),
        "sin": lambda: _call("cos", u), "cos": lambda: _c(0, u.dtype) - _call("sin", u),
        "tan": lambda: one + y * y, "sinh": lambda: _call("cosh", u), "cosh": lambda: _call("sinh", u),
        "asin": lambda: _call("rsqrt", one - u * u), "acos": lambda: _c(0, u.dtype) - _call("rsqrt", one - u * u),
        "atan": lambda: one / (one + u * u), "asinh": lambda: _call("rsqrt", u * u + one),
        "acosh": lambda: _call("rsqrt", u * u - one), "atanh": lambda: one / (one - u * u),
        "abs": lambda: _sign(u),
        "floor": lambda: None, "ceil": lambda: None, "round": lambda: None,
    }
    if name in unary:
        return [unary[name]()]
    if name == "pow":
        a, b = args
        # d/db at a == 0 is 0, as JAX's (log(0) * 0 would be NaN)
        db = _e.select(a == _c(0, a.dtype), c(0), _call("log", _e.select(a == _c(0, a.dtype), one, a)) * y)
        return [b * _call("pow", a, b - one), db]
    if name == "atan2":
        a, b = args
        r = a * a + b * b
        return [b / r, _c(0, a.dtype) - a / r]
    if name == "hypot":
        a, b = args
        return [a / y, b / y]
    if e.dtype == "bool" or not _is_float(e.dtype):
        return [None] * len(args)
    raise TeAutodiffError(f"te autodiff: the math call {name} has no derivative here; write the op's rule "
                          "by hand (@op.defvjp, @op.defjvp)")


def _binary_derivatives(e: Binary) -> tuple:
    """``(d/da, d/db)`` of a float Binary (None: zero)."""
    a, b, op = e.a, e.b, e.op
    one = _c(1, e.dtype)
    if op == "add":
        return one, one
    if op == "sub":
        return one, _c(-1, e.dtype)
    if op == "mul":
        return b, a
    if op == "div":
        return one / b, _c(0, e.dtype) - e / b
    if op in ("max", "min"):  # a tie shares the derivative evenly, as mlc.grad's np.maximum
        first = a > b if op == "max" else a < b
        second = a < b if op == "max" else a > b
        half = _c(0.5, e.dtype)
        return (_e.select(first, one, _e.select(second, _c(0, e.dtype), half)),
                _e.select(second, one, _e.select(first, _c(0, e.dtype), half)))
    if op == "floormod":
        return one, _c(0, e.dtype) - _call("floor", a / b)
    if op == "floordiv":
        return None, None
    raise TeAutodiffError(f"te autodiff: the float operation {op} has no derivative here; write the op's "
                          "rule by hand (@op.defvjp, @op.defjvp)")


def partial(e: PrimExpr, var: Var) -> PrimExpr | None:
    """The derivative of scalar expression ``e`` with respect to ``var`` (a float Var);
    None where it is zero. Loads are constants (replace the loads to differentiate by
    variables first)."""
    return derivative(e, {var: _c(1, var.dtype)})


def derivative(e: PrimExpr, seeds: dict) -> PrimExpr | None:
    """The derivative of ``e`` in the direction ``seeds`` (Var -> its derivative, an
    expression); None where it is zero. A seed stays where its variable was, so one under a
    ``select``'s guard stays guarded (a tangent read out of range is never evaluated)."""
    if not _is_float(e.dtype):
        return None
    if not builtins.any(isinstance(n, Var) and n in seeds for n in pre_order_nodes(e)):
        return None
    if isinstance(e, Var):
        return seeds.get(e)
    if isinstance(e, Cast):
        inner = derivative(e.value, seeds)
        return None if inner is None else _e.cast(inner, e.dtype)
    if isinstance(e, Select):
        t, f = derivative(e.true_value, seeds), derivative(e.false_value, seeds)
        if t is None and f is None:
            return None
        zero = _c(0, e.dtype)
        return _e.select(e.cond, zero if t is None else t, zero if f is None else f)
    if isinstance(e, Binary):
        da, db = derivative(e.a, seeds), derivative(e.b, seeds)
        if da is None and db is None:
            return None
        pa, pb = _binary_derivatives(e)
        return _add(_scale(da, pa) if pa is not None else None, _scale(db, pb) if pb is not None else None)
    if isinstance(e, Call):
        out = None
        for arg, d in zip(e.args, _call_derivatives(e)):
            if d is not None:
                out = _add(out, _scale(derivative(arg, seeds), d))
        return out
    if isinstance(e, (IntImm, FloatImm, BufferLoad, Not)):
        return None
    raise TeAutodiffError(f"te autodiff: cannot differentiate {type(e).__name__} nodes")


# --------------------------------------------------------------- reductions

def _reduction(t: Tensor):
    """``(source, reduce axes, condition, combiner name)`` of stage ``t`` (axes () without one)."""
    body = _body(t)
    if not isinstance(body, Reduce):
        return body, (), None, None
    name = body.combiner.name
    if name not in ("sum", "max", "min"):
        raise TeAutodiffError(f"te autodiff: stage {t.name} reduces with {name}; only sum, max and min "
                              "reductions are differentiated; give the op its rules by hand (@op.defvjp, @op.defjvp)")
    return body.source, body.axis, body.condition, name


def _fresh(axes):
    """New reduce IterVars over the ranges of ``axes`` (IterVars), and the substitution to them."""
    new = [reduce_axis((iv.dom.min, iv.dom.min + iv.dom.extent), name=iv.var.name) for iv in axes]
    return new, {iv.var: n.var for iv, n in zip(axes, new)}


class _Builder:
    """The tensors of one derivative program, by buffer, and the stages it adds."""

    def __init__(self, tensors):
        self.tensors = {id(t.buffer): t for t in tensors}

    def add(self, t: Tensor) -> Tensor:
        self.tensors[id(t.buffer)] = t
        return t

    def read(self, e, vmap=None, rewrite=None):
        return _Reader(self.tensors, vmap, rewrite).visit(e)

    def extrema_count(self, t: Tensor):
        """How many terms of max/min stage ``t`` reach its value (ties share the derivative)."""
        source, axes, cond, _ = _reduction(t)
        outer = [iv.var for iv in t.op.axis]

        def body(*i):
            new, vmap = _fresh(axes)
            vmap.update(zip(outer, i))
            hit = self.read(source, vmap) == t[tuple(i)]
            where = self.read(cond, vmap) if cond is not None else None
            return _te_sum(_e.select(hit, _c(1, t.dtype), _c(0, t.dtype)), new, where)
        return self.add(compute(t.shape, body, name=f"{t.name}_ties"))

    @staticmethod
    def head_weight(t: Tensor, term, head_load, at, counts):
        """The factor a term (value ``term``) of stage ``t`` at point ``at`` passes on: the
        head, or for max/min the head shared among the terms reaching the extremum."""
        if _reduction(t)[3] in ("max", "min"):
            return _e.select(term == t[at], head_load / counts[at], _c(0, t.dtype))
        return head_load


def _te_sum(value, axes, where):
    return _te_sum_op(value, axis=list(axes), where=where)


def _sum_tensors(builder: _Builder, parts: list, like: Tensor, name: str) -> Tensor:
    if len(parts) == 1:
        return parts[0]
    return builder.add(compute(like.shape, lambda *i: _sum_exprs([p[i] for p in parts]), name=name))


def _sum_exprs(values):
    out = values[0]
    for v in values[1:]:
        out = out + v
    return out


# ------------------------------------------------------------- reverse mode

def _solve(indices, domain, j, shape):
    """Solve ``indices(domain) == j`` for domain variables where affine: ``(bound, conditions)``,
    ``bound`` mapping solved variables to expressions of ``j`` and the unsolved ones."""
    extent = {id(iv.var): iv for iv in domain}
    bound: dict = {}
    conds: list = []
    pending = list(range(len(indices)))
    progress = True
    while progress and pending:
        progress = False
        for d in list(pending):
            e = substitute(indices[d], bound)
            free = [iv.var for iv in domain if iv.var not in bound and uses_any(e, [iv.var])]
            if not free:
                conds.append(e == j[d])
                pending.remove(d)
                progress = True
                continue
            lin = linear(e)
            if len(lin.terms) == 1 and not lin.const:
                (atom, coef), = lin.terms.values()
                if coef == 1 and atom is e and builtins.any(v is e for v in free):  # the common case
                    bound[e] = j[d]
                    pending.remove(d)
                    progress = True
                    continue
            candidates = []
            for atom, coef in lin.terms.values():
                if isinstance(atom, Var) and id(atom) in extent and atom not in bound:
                    others = [a for a, _ in lin.terms.values() if a is not atom]
                    if not builtins.any(uses_any(a, [atom]) for a in others):  # the axis appears linearly
                        candidates.append((-_extent(extent[id(atom)]), builtins.abs(coef) != 1, atom, coef))
            if not candidates:
                continue
            # solve for the longest axis: what is left to sum over is then the shortest (a kernel's)
            _, _, var, coef = min(candidates, key=lambda c: (c[0], c[1]))
            rest = lin.add(type(lin).atom(var), -coef).to_expr()
            num = j[d] - rest if coef > 0 else rest - j[d]
            step = builtins.abs(coef)
            if step == 1:
                bound[var] = num
            else:
                bound[var] = _e.floordiv(num, _c(step, num.dtype))
                conds.append(_e.floormod(num, _c(step, num.dtype)) == _c(0, num.dtype))
            pending.remove(d)
            progress = True
    for _ in range(len(bound)):
        bound = {v: substitute(x, bound) for v, x in bound.items()}
    for d in pending:
        conds.append(substitute(indices[d], bound) == j[d])
    for var, value in bound.items():
        iv = extent[id(var)]
        lo, hi = iv.dom.min, iv.dom.min + iv.dom.extent
        exact = next((d for d in range(len(j)) if value is j[d]), None)
        if not (exact is not None and isinstance(lo, IntImm) and lo.value == 0):
            conds.append(value >= lo)
        if not (exact is not None and isinstance(hi, IntImm) and isinstance(shape[exact], int)
                and shape[exact] <= hi.value):
            conds.append(value < hi)
    conds = [substitute(c, bound) for c in conds]
    return bound, conds


def _extent(iv: IterVar) -> int:
    e = iv.dom.extent
    return e.value if isinstance(e, IntImm) else 1 << 30


def _contribution(builder: _Builder, t: Tensor, head: Tensor, x: Tensor, counts) -> Tensor | None:
    """Stage ``t``'s part of the derivative of ``x`` given ``t``'s (``head``)."""
    source, axes, cond, _ = _reduction(t)
    loads: dict = {}
    for n in pre_order_nodes(source):
        if isinstance(n, BufferLoad) and n.buffer is x.buffer:
            loads.setdefault(_key(n), n)
    if not loads:
        return None
    variables = {k: Var(f"d_{x.name}", x.dtype) for k in loads}
    replaced = _replace_loads(source, x, variables)
    back = {variables[k]: loads[k] for k in loads}
    domain = tuple(t.op.axis) + tuple(axes)
    outer = [iv.var for iv in t.op.axis]
    parts = []
    for k, load in loads.items():
        p = partial(replaced, variables[k])
        if p is None:
            continue
        p = substitute(p, back)

        def body(*j, p=p, load=load):
            bound, conds = _solve(load.indices, domain, j, x.shape)
            remaining = [iv for iv in domain if iv.var not in bound]
            new, vmap = _fresh(remaining)
            full = {v: substitute(e, vmap) for v, e in bound.items()}
            full.update(vmap)
            at = tuple(full.get(v, v) for v in outer)
            weight = builder.head_weight(t, builder.read(source, full), head[at], at, counts)
            value = weight * builder.read(p, full)
            value = value if value.dtype == x.dtype else _e.cast(value, x.dtype)
            conds = [builder.read(c, vmap) for c in conds]
            if cond is not None:
                conds.append(builder.read(cond, full))
            if new:
                return _te_sum(value, new, and_all(conds) if conds else None)
            return _e.select(and_all(conds), value, _c(0, x.dtype)) if conds else value
        parts.append(builder.add(compute(x.shape, body, name=f"d_{x.name}_from_{t.name}")))
    if not parts:
        return None
    return _sum_tensors(builder, parts, x, f"d_{x.name}_from_{t.name}")


def _key(load: BufferLoad) -> tuple:
    return expr_key(load.indices)


def _replace_loads(e, x, variables):
    class _Replace(Mutator):
        def visit_BufferLoad(self, load):
            if load.buffer is x.buffer:
                return variables.get(_key(load), load)
            return load
    return _Replace().visit(e)


def gradient(outputs, inputs, heads) -> list:
    """The derivative of ``sum(head * output)`` over ``outputs`` with respect to each of
    ``inputs`` (placeholders), as te tensors of the inputs' shapes; None for an input the
    outputs do not depend on differentiably. ``heads`` are tensors of the outputs' shapes
    (the cotangents), or None for an output without one."""
    stages = stages_of(outputs)
    builder = _Builder(stages + [h for h in heads if h is not None])
    adjoints: dict = {}
    for out, head in zip(outputs, heads):
        if head is not None and _is_float(out.dtype):
            adjoints.setdefault(id(out.buffer), []).append(head)
    for t in reversed(stages):
        parts = adjoints.get(id(t.buffer))
        if not parts or isinstance(t.op, PlaceholderOp):
            continue
        head = _sum_tensors(builder, parts, t, f"d_{t.name}")
        counts = builder.extrema_count(t) if _reduction(t)[3] in ("max", "min") else None
        seen = set()
        for x in t.op.inputs:
            if id(x.buffer) in seen or not _is_float(x.dtype):
                continue
            seen.add(id(x.buffer))
            c = _contribution(builder, t, head, x, counts)
            if c is not None:
                adjoints.setdefault(id(x.buffer), []).append(c)
    return [_sum_tensors(builder, adjoints[id(x.buffer)], x, f"d_{x.name}") if adjoints.get(id(x.buffer))
            else None for x in inputs]


# ------------------------------------------------------------- forward mode

def jvp(outputs, inputs, tangents) -> list:
    """The tangents of ``outputs`` given those of ``inputs`` (placeholders; a tangent is a
    tensor of the input's shape, or None for zero), as te tensors; None for an output
    whose tangent is zero."""
    stages = stages_of(outputs)
    builder = _Builder(stages + [t for t in tangents if t is not None])
    tangent = {id(x.buffer): d for x, d in zip(inputs, tangents) if d is not None and _is_float(x.dtype)}
    for t in stages:
        if isinstance(t.op, PlaceholderOp) or not _is_float(t.dtype):
            continue
        source, axes, cond, name = _reduction(t)
        loads = {}
        for n in pre_order_nodes(source):
            if isinstance(n, BufferLoad) and id(n.buffer) in tangent:
                loads.setdefault((id(n.buffer), _key(n)), n)
        if not loads:
            continue
        variables = {k: Var("d", ld.dtype) for k, ld in loads.items()}
        replaced = _replace_all(source, variables)
        back = {variables[k]: ld for k, ld in loads.items()}
        counts = builder.extrema_count(t) if name in ("max", "min") else None
        outer = [iv.var for iv in t.op.axis]

        def body(*i, t=t, source=source, axes=axes, cond=cond, name=name, replaced=replaced, loads=loads,
                 counts=counts, outer=outer, back=back, variables=variables):
            new, vmap = _fresh(axes)
            vmap.update(zip(outer, i))
            seeds = {}
            for k, ld in loads.items():
                d = tangent[id(ld.buffer)][tuple(builder.read(ix, vmap) for ix in ld.indices)]
                seeds[variables[k]] = d
            value = derivative(replaced, seeds)
            if value is None:
                value = _c(0, t.dtype)
            value = builder.read(substitute(value, back), vmap)
            if value.dtype != t.dtype:
                value = _e.cast(value, t.dtype)
            if name in ("max", "min"):
                hit = builder.read(source, vmap) == t[tuple(i)]
                value = _e.select(hit, value / counts[tuple(i)], _c(0, t.dtype))
            if not axes:
                return value
            return _te_sum(value, new, builder.read(cond, vmap) if cond is not None else None)
        tangent[id(t.buffer)] = builder.add(compute(t.shape, body, name=f"d_{t.name}"))
    return [tangent.get(id(o.buffer)) for o in outputs]


def _replace_all(e, variables):
    class _Replace(Mutator):
        def visit_BufferLoad(self, load):
            return variables.get((id(load.buffer), _key(load)), load)
    return _Replace().visit(e)


# ------------------------------------------------------------------ batching

def add_batch_axis(outputs, inputs, new_inputs, batched) -> list:
    """``outputs`` recomputed with a leading batch axis: ``new_inputs[n]`` replaces
    ``inputs[n]``, with a leading batch axis where ``batched[n]`` holds (the batch size is
    that axis's extent). Every stage gains the axis, so each batch item runs the program
    as written."""
    size = next(t.shape[0] for t, b in zip(new_inputs, batched) if b)
    mapping = {id(x.buffer): (n, b) for x, n, b in zip(inputs, new_inputs, batched)}
    done: dict = {}
    for t in stages_of(outputs):
        if isinstance(t.op, PlaceholderOp):
            continue
        if id(t.op) not in done:
            done[id(t.op)] = _batched_stage(t.op, mapping, size)
        mapping[id(t.buffer)] = (done[id(t.op)][t.value_index], True)
    return [mapping[id(o.buffer)][0] for o in outputs]


def _batched_stage(op: ComputeOp, mapping, size) -> list:
    """Compute op ``op`` with a leading batch axis, reading the batched versions of its inputs."""
    outer = [iv.var for iv in op.axis]
    batch_var = []

    def rewrite(load, indices):
        entry = mapping.get(id(load.buffer))
        if entry is None:
            return None
        new, is_batched = entry
        return new[(batch_var[0],) + tuple(indices) if is_batched else tuple(indices)]

    def body(*idx):
        b, i = idx[0], idx[1:]
        batch_var[:] = [b]
        reader = _Reader({}, dict(zip(outer, i)), rewrite)
        values = []
        for v in op.body:
            if isinstance(v, Reduce):
                new, vmap = _fresh(v.axis)
                reader.vmap.update(vmap)
                values.append(Reduce(v.combiner, reader.visit(v.source), tuple(new),
                                     reader.visit(v.condition) if v.condition is not None else None, v.dtype))
            else:
                values.append(reader.visit(v))
        return values[0] if len(values) == 1 else tuple(values)

    shape = (size,) + tuple(iv.dom.extent for iv in op.axis)
    result = compute(shape, body, name=op.name)
    return list(result) if isinstance(result, (list, tuple)) else [result]
