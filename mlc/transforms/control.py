"""The transformations' rules for loops and conditionals (:mod:`mlc.ir.control`).

Each rule records new control-flow bindings through the functions a user
calls (:func:`~mlc.tracer.control_flow.fori_loop`, ``while_loop``,
``switch``), whose bodies apply the transformation to the original bodies
(:func:`.jvp.jvp_eval`, :func:`.vjp.vjp_eval`, :func:`.batching.batch_eval`):
so a transformed loop is still one compiled loop, and transformations nest
(each rule is handed the evaluator of its transformation, whose module
dispatches to it). JAX's rules are the model:

- **switch** (``cond``, ``switch``): differentiated branch by branch (a
  switch on the same index whose branches compute the tangents, or the
  cotangents, which recompute the branch's forward pass); batched with an
  unbatched index branch by branch, with a batched index by computing every
  branch and selecting per element.
- **for_loop**: forward mode carries the tangents beside the carries (the
  carries that get one are found as a fixed point: a carry whose initial
  tangent is zero may get one from the body). Reverse mode needs a trip
  count known when tracing (Python-int bounds): the forward loop stores each
  iteration's input carries in a stacked buffer (a row per iteration, written
  in place by ``write_row``: O(trip count x carry) work and memory), and a backward loop runs
  the iterations in reverse, each the body's VJP at its stored carries,
  summing the cotangents of the values the body reads from around it.
  Batched: carries that the batch reaches are batched (a fixed point again);
  batched bounds run from the smallest lower to the largest upper bound,
  each element's carry updated only inside its own range.
- **while_loop**: forward mode as for_loop; reverse mode is a
  :class:`~mlc.errors.TraceError` (its trip count is unknown when tracing, as
  in JAX). Batched with a batched predicate: the loop runs while any element's
  predicate holds, each element's carry updated only while its own does.

>>> import numpy as np, mlc
>>> f = lambda x: mlc.fori_loop(0, 3, lambda i, c: np.sin(c) * x, x).sum()
>>> x = np.float32([0.5, 1.0])
>>> np.allclose(mlc.grad(f)(x), mlc.grad(lambda x: (np.sin(np.sin(np.sin(x) * x) * x) * x).sum())(x))
True
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Constant
from ..ops.rules import Zero, differentiable, instantiate, is_zero
from ..ops.rules.core import apply_op
from ..tracer import control_flow as cf
from ..tracer.trace import TraceContext, control_flow_refusal, current_trace
from .partial_eval import partial_eval
from .rules import Z, batched_type, moved
from .tracing import inline_graph

__all__ = ["control_jvp", "control_vjp_forward", "control_vjp_backward", "control_batch"]


def _split(b, xs) -> tuple[list, list, list]:
    """(bounds, initial carry, captured values) of a loop binding's operands ``xs``."""
    n = b.attr("num_carry")
    lead = 2 if b.op == "for_loop" else 0
    return list(xs[:lead]), list(xs[lead:lead + n]), list(xs[lead + n:])


def _live(x, t) -> bool:
    return not is_zero(t) and differentiable(x.dtype)


def _pick(values, flags) -> list:
    return [v for v, f in zip(values, flags) if f]


def _fill(flags, values, zeros) -> list:
    """One entry per flag: the next of ``values`` where it holds, the matching ``zeros`` entry else."""
    it = iter(values)
    return [next(it) if f else z for f, z in zip(flags, zeros)]


def _scratch_inputs(ctx: TraceContext, types) -> list:
    return [ctx.new_input(t, f"p{k}") for k, t in enumerate(types)]


# ------------------------------------------------------------------ forward mode


def control_jvp(b, xs, ts, jvp_eval):
    """(results, their tangents) of control-flow binding ``b`` on ``xs`` with tangents ``ts``."""
    if b.op == "switch":
        return _switch_jvp(b, xs, ts, jvp_eval)
    return _loop_jvp(b, xs, ts, jvp_eval)


def _switch_jvp(b, xs, ts, jvp_eval):
    index, ops = xs[0], list(xs[1:])
    live = [_live(x, t) for x, t in zip(ops, ts[1:])]
    n = len(ops)

    def branch(g):
        def run(*args):
            tangents = _fill(live, args[n:], [Z(x) for x in args[:n]])
            outs, touts = jvp_eval(g, list(args[:n]), tangents)
            return list(outs), [instantiate(t, o) for t, o in zip(touts, outs)]
        return run

    outs, touts = cf.switch(index, [branch(g) for g in b.attr("branches")], *ops, *_pick(ts[1:], live))
    return outs, [t if differentiable(o.dtype) else Z(o) for t, o in zip(touts, outs)]


def _loop_jvp(b, xs, ts, jvp_eval):
    bounds, init, captured = _split(b, xs)
    _, t_init, t_cap = _split(b, ts)
    body = b.attr("body")
    n = len(init)
    cap_live = [_live(x, t) for x, t in zip(captured, t_cap)]
    lead = [Z(bounds[0])] if bounds else []

    def tangents_out(carry_live):  # which results get a tangent when these carries have one
        with TraceContext("probe", capture=True) as ctx:
            ins = _scratch_inputs(ctx, [v.type for v in body.inputs])
            k = len(lead)
            carry = ins[k:k + n]
            tc = [ctx.new_input(c._atom.type, "t") if f else Z(c) for c, f in zip(carry, carry_live)]
            tcap = [ctx.new_input(c._atom.type, "t") if f else Z(c) for c, f in zip(ins[k + n:], cap_live)]
            touts = jvp_eval(body, ins, lead + tc + tcap)[1]
        return [not is_zero(t) for t in touts]

    carry_live = [_live(x, t) for x, t in zip(init, t_init)]
    while True:
        grown = [a or c for a, c in zip(carry_live, tangents_out(carry_live))]
        if grown == carry_live:
            break
        carry_live = grown

    def step(lead_values, carry, tc):
        tangents = lead + _fill(carry_live, tc, [Z(c) for c in carry]) + _fill(
            cap_live, _pick(t_cap, cap_live), [Z(c) for c in captured])
        outs, touts = jvp_eval(body, lead_values + list(carry) + captured, tangents)
        return [list(outs), [instantiate(t, o) for t, o, f in zip(touts, outs, carry_live) if f]]

    t0 = [instantiate(t, x) for x, t, f in zip(init, t_init, carry_live) if f]
    if b.op == "for_loop":
        outs, touts = cf.fori_loop(bounds[0], bounds[1], lambda i, s: step([i], *s), [init, t0])
    else:
        test = b.attr("cond")
        outs, touts = cf.while_loop(lambda s: inline_graph(test, list(s[0]) + captured)[0],
                                    lambda s: step([], *s), [init, t0])
    return list(outs), _fill(carry_live, touts, [Z(o) for o in outs])


# ------------------------------------------------------------------ reverse mode


def _static_bounds(b, xs):
    """(lower, upper) as Python ints where the loop's bounds are constants, else None."""
    lower, upper = xs[0]._atom, xs[1]._atom
    if isinstance(lower, Constant) and isinstance(upper, Constant):
        return int(lower.data), int(upper.data)
    return None


def control_vjp_forward(b, xs, active, vjp_graph):
    """The forward pass of control-flow binding ``b`` on ``xs`` (``active``: whether each operand is
    differentiated): ``(results, what the backward pass needs)``. A loop stores the carries the
    body's backward pass reads (``vjp_graph`` finds them), one row per iteration."""
    if b.op == "switch":
        return _replay(b, xs), None
    bounds = _static_bounds(b, xs) if b.op == "for_loop" else None
    if bounds is None:
        raise control_flow_refusal(b.op, b.loc)
    lower, upper = bounds
    count = max(upper - lower, 0)
    if count == 0:
        return _replay(b, xs), None
    _, init, captured = _split(b, xs)
    body = b.attr("body")
    kept = _read_by_backward(body, _loop_wrt(b, init, captured, active), vjp_graph)[1:1 + len(init)]

    def step(i, state):  # each iteration writes its row of the stacks (in place: O(carry), not O(stack))
        carry, stacks = state
        row = i - lower
        stored = [apply_op("write_row", s, c, row) for c, s in zip(_pick(carry, kept), stacks)]
        return [list(inline_graph(body, [i, *carry, *captured])), stored]

    stacks0 = [instantiate(Zero((count, *c.shape), np.dtype(c.dtype).name), c) for c in _pick(init, kept)]
    outs, stacks = cf.fori_loop(xs[0], xs[1], step, [init, stacks0])
    return tuple(outs), (lower, count, kept, list(stacks))


def _loop_wrt(b, init, captured, active) -> list[bool]:
    """Which of a for_loop body's inputs (index, carry, captured) reverse mode differentiates."""
    n = len(init)
    return ([False] + [differentiable(c.dtype) for c in init]
            + [a and differentiable(x.dtype) for a, x in zip(active[2 + n:], captured)])


def _read_by_backward(body, wrt, vjp_graph) -> list[bool]:
    """Whether the body's backward pass reads each of its inputs' values (a carry only passed
    through, or selected by ``where``, is not: its cotangent does not depend on its value)."""
    vg = vjp_graph(body, wrt)
    n_in, n_out = len(body.inputs), len(body.outputs)
    known, _ = partial_eval(vg, [True] * n_in + [False] * n_out, [], list(range(n_out, len(vg.outputs))))
    needed = {id(a) for a in known.outputs}
    for binding in reversed(known.bindings):
        if any(id(v) in needed for v in binding.outputs):
            needed.update(id(a) for a in binding.args)
    return [id(v) in needed for v in vg.inputs[:n_in]]


def _replay(b, xs) -> tuple:
    out = current_trace().emit(b.op, list(xs), b.attr_dict)
    return tuple(out)


def control_vjp_backward(b, xs, outs, cts_out, extra, active, vjp_eval):
    """The cotangents of control-flow binding ``b``'s operands (None where none) given its results'
    ``cts_out``; ``extra`` is what :func:`control_vjp_forward` returned."""
    if b.op == "switch":
        return _switch_vjp(b, xs, cts_out, active, vjp_eval)
    return _loop_vjp(b, xs, outs, cts_out, extra, active, vjp_eval)


def _switch_vjp(b, xs, cts_out, active, vjp_eval):
    index, ops = xs[0], list(xs[1:])
    n = len(ops)
    wrt = [a and differentiable(x.dtype) for a, x in zip(active[1:], ops)]
    ct_live = [_live(o, c) for o, c in zip(b.outputs, cts_out)]
    if not any(wrt) or not any(ct_live):
        return [None] * len(xs)

    def branch(g):
        def run(*args):
            primals = list(args[:n])
            _, backward = vjp_eval(g, primals, wrt)
            res = backward(_fill(ct_live, args[n:], [Z(o) for o in g.outputs]))
            return [instantiate(r, p) for r, p, w in zip(res, primals, wrt) if w]
        return run

    got = cf.switch(index, [branch(g) for g in b.attr("branches")], *ops, *_pick(cts_out, ct_live))
    return [None] + _fill(wrt, got, [None] * n)


def _loop_vjp(b, xs, outs, cts_out, extra, active, vjp_eval):
    _, init, captured = _split(b, xs)
    n = len(init)
    wrt = _loop_wrt(b, init, captured, active)
    carry_wrt, cap_wrt = wrt[1:1 + n], wrt[1 + n:]
    if extra is None:  # no iteration: the results are the initial carry
        return [None, None] + [c if w else None for c, w in zip(cts_out, carry_wrt)] + [None] * len(captured)
    lower, count, kept, stacks = extra
    body = b.attr("body")
    index_dtype = np.dtype(xs[0].dtype)

    def step(j, state):
        ct, acc = state
        row = count - 1 - j
        i = (row + lower).astype(index_dtype)
        at = np.reshape(row, (1,))  # (in [0, count): the gather checks nothing)
        stored = [np.reshape(apply_op("take", s, at, axis=0), s.shape[1:]) for s in stacks]
        carry = _fill(kept, stored, [instantiate(None, c) for c in init])  # unread carries: any value
        _, backward = vjp_eval(body, [i, *carry, *captured], wrt)
        res = backward(_fill(carry_wrt, ct, [Z(o) for o in body.outputs]))
        new_ct = [instantiate(r, c) for r, c, w in zip(res[1:1 + n], carry, carry_wrt) if w]
        new_acc = [a + instantiate(r, c) for a, (r, c) in zip(acc, _pick(zip(res[1 + n:], captured), cap_wrt))]
        return [new_ct, new_acc]

    ct0 = [instantiate(c, o) for c, o, w in zip(cts_out, outs, carry_wrt) if w]
    acc0 = [instantiate(None, c) for c in _pick(captured, cap_wrt)]
    ct, acc = cf.fori_loop(0, count, step, [ct0, acc0])
    return [None, None] + _fill(carry_wrt, ct, [None] * n) + _fill(cap_wrt, acc, [None] * len(captured))


# ------------------------------------------------------------------ batching


def control_batch(b, xs, ds, size: int, batch_eval):
    """(results, their batch axes) of control-flow binding ``b`` on ``xs`` batched along ``ds``."""
    if b.op == "switch":
        return _switch_batch(b, xs, ds, size, batch_eval)
    return _loop_batch(b, xs, ds, size, batch_eval)


def _switch_batch(b, xs, ds, size, batch_eval):
    index, ops, op_dims = xs[0], list(xs[1:]), list(ds[1:])
    branches = b.attr("branches")

    def run_branch(g, args):
        outs, dims = batch_eval(g, list(args), op_dims, size)
        return [moved(o, d, 0, size) for o, d in zip(outs, dims)]

    if ds[0] is None:
        outs = cf.switch(index, [lambda *a, g=g: run_branch(g, a) for g in branches], *ops)
        return list(outs), [0] * len(outs)
    idx = moved(index, ds[0], 0, size)
    results = [run_branch(g, ops) for g in branches]
    if idx.dtype == np.bool_:
        idx = idx.astype("int64")
    idx = np.clip(idx, 0, len(branches) - 1)
    chosen = list(results[-1])
    for k in range(len(branches) - 2, -1, -1):
        hit = idx == k
        chosen = [np.where(np.reshape(hit, (size,) + (1,) * (r.ndim - 1)), r, c) for r, c in zip(results[k], chosen)]
    return chosen, [0] * len(chosen)


def _loop_batch(b, xs, ds, size, batch_eval):
    bounds, init, captured = _split(b, xs)
    bound_dims, init_dims, cap_dims = _split(b, ds)
    body = b.attr("body")
    test = b.attr("cond") if b.op == "while_loop" else None
    n = len(init)
    lead = [None] * len(bounds[:1])

    def probe(graph, dims):  # the batch axes of graph's results on inputs batched along dims
        with TraceContext("probe", capture=True) as ctx:
            ins = _scratch_inputs(ctx, [batched_type(v.type, d, size) for v, d in zip(graph.inputs, dims)])
            return batch_eval(graph, ins, dims, size)[1]

    batched = [d is not None for d in init_dims]
    select = any(d is not None for d in bound_dims)
    while not select:
        dims = lead + [0 if f else None for f in batched] + cap_dims
        grown = [f or d is not None for f, d in zip(batched, probe(body, dims))]
        if test is not None and probe(test, dims[len(lead):])[0] is not None:
            select = True
        elif grown == batched:
            break
        batched = grown
    if select:
        batched = [True] * n
    carry_dims = [0 if f else None for f in batched]

    def advance(lead_values, carry):
        outs, dims = batch_eval(body, lead_values + list(carry) + captured, lead + carry_dims + cap_dims, size)
        return [moved(o, d, 0, size) if f else o for o, d, f in zip(outs, dims, batched)]

    def where_each(mask, new, old):  # each element's new carry where its mask holds
        return [np.where(np.reshape(mask, (size,) + (1,) * (o.ndim - 1)), nv, o) for nv, o in zip(new, old)]

    init_b = [moved(x, d, 0, size) if f else x for x, d, f in zip(init, init_dims, batched)]
    if b.op == "for_loop" and not select:
        outs = cf.fori_loop(bounds[0], bounds[1], lambda i, c: advance([i], c), init_b)
    elif b.op == "for_loop":
        lo, hi = (moved(x, d, 0, size) for x, d in zip(bounds, bound_dims))
        outs = cf.fori_loop(lo.min(), hi.max(),
                            lambda i, c: where_each((lo <= i) & (i < hi), advance([i], c), c), init_b)
    else:
        def predicate(carry):
            outs, dims = batch_eval(test, list(carry) + captured, carry_dims + cap_dims, size)
            return moved(outs[0], dims[0], 0, size) if select else outs[0]

        if select:
            outs = cf.while_loop(lambda c: predicate(c).any(),
                                 lambda c: where_each(predicate(c), advance([], c), c), init_b)
        else:
            outs = cf.while_loop(predicate, lambda c: advance([], c), init_b)
    outs = list(outs)
    return outs, carry_dims
