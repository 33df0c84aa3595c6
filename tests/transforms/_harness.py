"""Check one op's transformation rules on one sample call, in one compiled program.

:func:`check_op_case` compiles (once per op, case and target) a program that
computes the op's JVP along a direction ``u``, its VJP of a cotangent ``v``
and two ``vmap`` versions of it, then checks, in float64:

- forward mode against central finite differences of the op's NumPy reference;
- reverse mode against forward mode: ``<v, J u> == <J^T v, u>``, and against the
  finite differences;
- ``vmap`` against a Python loop of the op's reference (every operand batched, at
  various axes; and only the first operand batched, the others shared).
"""
from __future__ import annotations

import numpy as np

import mlc
from mlc.ops import get_op
from mlc.ops.rules import apply_op

from .op_cases import Case

#: central differences: step, and the tolerance of their comparison (their error is O(eps^2)
#: from the function's third derivative plus O(1e-16 / eps) from rounding)
EPS = 1e-6
FD_RTOL, FD_ATOL = 2e-6, 2e-7
#: forward mode against reverse mode: both exact up to rounding
ADJOINT_RTOL = 1e-9
BATCH = 3
#: ops whose derivative is zero by design where their value still changes
CONSTANT_BY_DESIGN = ("stop_gradient",)

_PROGRAMS: dict = {}


def _leaves(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _is_float(a) -> bool:
    return np.asarray(a).dtype.kind == "f"


def _function(name: str, case: Case):
    def f(*xs):
        out = apply_op(name, *xs, **case.attrs)
        return case.post(out) if case.post is not None else out
    return f


def _reference(name: str, case: Case, arrays):
    out = get_op(name).reference(*arrays, **case.attrs)
    out = case.post(out) if case.post is not None else out
    return [np.asarray(o) for o in _leaves(out)]


def _batch_axes(arrays, all_batched: bool):
    axes = []
    for n, a in enumerate(arrays):
        if not all_batched and n:
            axes.append(None)
        else:
            axes.append(np.ndim(a) if n == 0 and all_batched else 0)
    return tuple(axes)


def _batched(arrays, axes, rng, case: Case):
    """The operands of ``BATCH`` calls, stacked along ``axes`` (the first call's are ``arrays``)."""
    out, calls = [], [list(arrays)]
    fresh = [case.arrays(rng) for _ in range(BATCH - 1)]
    for b in range(1, BATCH):
        calls.append([f if _is_float(a) else np.roll(a, b) for a, f in zip(arrays, fresh[b - 1])])
    for n, axis in enumerate(axes):
        out.append(arrays[n] if axis is None else np.stack([c[n] for c in calls], axis=axis))
    return out, [[c[n] if axes[n] is not None else arrays[n] for n in range(len(arrays))] for c in calls]


def _case_run(name: str, case: Case, diff, all_axes, first_axes):
    """What the program computes for one case (a function of that case's arrays)."""
    f = _function(name, case)

    def run(args, u, v, all_args, first_args):
        def of_diff(*d):
            it = iter(d)
            return f(*(next(it) if w else a for a, w in zip(args, diff)))

        results = {"all": mlc.vmap(f, in_axes=all_axes)(*all_args)}
        if len(args) > 1:
            results["first"] = mlc.vmap(f, in_axes=first_axes)(*first_args)
        if any(diff):
            d_args = tuple(a for a, w in zip(args, diff) if w)
            results["primal"], results["tangent"] = mlc.jvp(of_diff, d_args, tuple(u))
            _, pullback = mlc.vjp(of_diff, *d_args)
            results["cotangents"] = pullback(v)
        return results
    return run


def _program(name: str, target: str, layouts):
    """One jitted program computing every case of op ``name`` (``layouts``: each case's
    differentiable operands and batch axes), compiled once per target."""
    program = _PROGRAMS.get((name, target))
    if program is None:
        from .op_cases import CASES
        runs = [_case_run(name, case, *layout) for case, layout in zip(CASES[name], layouts)]
        program = _PROGRAMS[(name, target)] = mlc.jit(lambda inputs: [run(*i) for run, i in zip(runs, inputs)],
                                                       target=target)
    return program


def _inner(a, b) -> float:
    return float(sum(np.sum(np.asarray(x, "float64") * np.asarray(y, "float64")) for x, y in zip(a, b)))


def _close(got, want, what: str, rtol=FD_RTOL, atol=FD_ATOL):
    got, want = np.asarray(got, "float64"), np.asarray(want, "float64")
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale, err_msg=what)


def check_op(name: str, target: str, seed: int) -> None:
    """The checks of the module docstring for every case of op ``name``."""
    from .op_cases import CASES

    rng = np.random.default_rng(seed)
    prepared = [_prepare(name, case, rng) for case in CASES[name]]
    program = _program(name, target, [p["layout"] for p in prepared])
    results = program([p["inputs"] for p in prepared])
    for index, (case, p, r) in enumerate(zip(CASES[name], prepared, results)):
        _check(f"{name} (case {index})", name, case, p, r)


def _prepare(name: str, case: Case, rng) -> dict:
    arrays = case.arrays(rng)
    diff = [_is_float(a) and case.derivatives for a in arrays]
    all_axes, first_axes = _batch_axes(arrays, True), _batch_axes(arrays, False)
    all_args, all_calls = _batched(arrays, all_axes, rng, case)
    first_args, first_calls = _batched(arrays, first_axes, rng, case)
    ref = _reference(name, case, arrays)
    u = [rng.standard_normal(np.shape(a)) for a, w in zip(arrays, diff) if w]
    v_leaves = [rng.standard_normal(r.shape) if _is_float(r) else np.zeros(r.shape, r.dtype) for r in ref]
    out = get_op(name).reference(*arrays, **case.attrs)
    out = case.post(out) if case.post is not None else out
    v = tuple(v_leaves) if isinstance(out, tuple) else v_leaves[0]
    return {"arrays": arrays, "diff": diff, "ref": ref, "u": u, "v": v_leaves, "calls": (all_calls, first_calls),
            "layout": (diff, all_axes, first_axes), "inputs": (arrays, u, v, all_args, first_args)}


def _check(what: str, name: str, case: Case, p: dict, results: dict) -> None:
    arrays, diff, ref, u, v_leaves = p["arrays"], p["diff"], p["ref"], p["u"], p["v"]
    for kind, calls in zip(("all", "first"), p["calls"][:1 if len(arrays) == 1 else 2]):
        want = [np.stack(parts) for parts in zip(*(_reference(name, case, c) for c in calls))]
        for n, (got, w) in enumerate(zip(_leaves(results[kind]), want)):
            if _is_float(w):
                _close(got, w, f"{what}: vmap ({kind} operands batched), result {n}", rtol=1e-9, atol=1e-12)
            else:
                np.testing.assert_array_equal(got, w, err_msg=f"{what}: vmap ({kind}), result {n}")
    if not any(diff):
        return
    for n, (got, w) in enumerate(zip(_leaves(results["primal"]), ref)):
        _close(got, w, f"{what}: jvp's primal result {n}", rtol=1e-9, atol=1e-12)
    tangents = _leaves(results["tangent"])
    cts = list(results["cotangents"])
    floats = [n for n, r in enumerate(ref) if _is_float(r)]
    rev = _inner(cts, u)
    fwd = _inner([v_leaves[n] for n in floats], [tangents[n] for n in floats])
    rtol = ADJOINT_RTOL if all(ref[n].dtype == np.float64 for n in floats) else 1e-5  # float32 results
    assert abs(rev - fwd) <= rtol * max(1.0, abs(fwd)), f"{what}: <v, J u> = {fwd} but <J^T v, u> = {rev}"
    if name in CONSTANT_BY_DESIGN:
        assert not any(np.any(np.asarray(t)) for t in tangents), f"{what}: nonzero tangents"
        return
    # finite differences of the float64 results (a float32 result's rounding is far above EPS)
    numeric = _finite_differences(name, case, arrays, diff, u)
    exact = [n for n in floats if ref[n].dtype == np.float64]
    for n in exact:
        _close(tangents[n], numeric[n], f"{what}: jvp (forward mode) vs finite differences, result {n}")
    if exact == floats:
        fd = _inner([v_leaves[n] for n in floats], [numeric[n] for n in floats])
        assert abs(rev - fd) <= FD_RTOL * 10 * max(1.0, abs(fd)), \
            f"{what}: vjp gives <J^T v, u> = {rev}, finite differences {fd}"


def _finite_differences(name, case, arrays, diff, u):
    it = iter(u)
    steps = [next(it) if w else None for w in diff]
    plus = [a + EPS * s if s is not None else a for a, s in zip(arrays, steps)]
    minus = [a - EPS * s if s is not None else a for a, s in zip(arrays, steps)]
    hi, lo = _reference(name, case, plus), _reference(name, case, minus)
    return [(h - l) / (2 * EPS) if _is_float(h) else None for h, l in zip(hi, lo)]
