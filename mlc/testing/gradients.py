"""``check_grads``: a function's derivatives against central finite differences.

Along a random direction ``u`` of the arguments and a random cotangent
``v`` of the outputs, with the finite differences
``d = (f(x + eps u) - f(x - eps u)) / (2 eps)``:

- ``"fwd"``: ``jvp(f, x, u)`` equals ``d``;
- ``"rev"``: ``<vjp(f, x)(v), u>`` equals ``<v, d>``; with both modes, also ``<v, jvp>``
  (no finite differences: to rounding);
- ``order=2``: the same checks of the derivative functions ``x -> jvp(f, x, u)`` and
  ``x -> vjp(f, x)(v)``.

Every function is compiled with ``mlc.jit`` for ``target``. Use float64
arguments: float32's rounding swamps finite differences (the tolerances
default to each dtype's).

>>> import numpy as np, mlc
>>> check_grads(lambda x: np.sin(x) * x, (np.linspace(0.1, 1, 4),), order=2)
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError
from ..tracer.jit import jit
from ..tracer.pytree import flatten, unflatten
from ..transforms import jvp, vjp

__all__ = ["check_grads"]

#: (finite-difference step, relative tolerance, absolute tolerance) per float dtype
_DEFAULTS = {"float64": (1e-6, 1e-5, 1e-7), "float32": (1e-3, 5e-2, 1e-3), "float16": (1e-2, 1e-1, 1e-1)}


def _float_leaves(args):
    leaves, treedef = flatten(tuple(args))
    for n, leaf in enumerate(leaves):
        if np.asarray(leaf).dtype.kind != "f":
            raise DTypeError(f"check_grads: argument leaf {n} is {np.asarray(leaf).dtype}; pass floating point "
                             "arrays (bind the others with functools.partial or a closure)")
    return [np.asarray(leaf) for leaf in leaves], treedef


def _tolerances(leaves, eps, rtol, atol):
    widest = min((np.dtype(leaf.dtype).itemsize for leaf in leaves), default=8)
    default = _DEFAULTS.get(f"float{8 * widest}", _DEFAULTS["float64"])
    return (default[0] if eps is None else eps, default[1] if rtol is None else rtol,
            default[2] if atol is None else atol)


def _inner(a, b) -> float:
    return float(sum(np.sum(np.asarray(x, "float64") * np.asarray(y, "float64")) for x, y in zip(a, b)))


def _close(got, want, rtol, atol, what):
    want = np.asarray(want, "float64")
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    np.testing.assert_allclose(np.asarray(got, "float64"), want, rtol=rtol, atol=atol * scale, err_msg=what)


def check_grads(f, args, order: int = 1, modes=("fwd", "rev"), *, eps=None, rtol=None, atol=None,
                target=None, seed: int = 0) -> None:
    """Check ``f``'s derivatives at ``args`` (a tuple of arrays or pytrees of them) up to ``order``
    (1 or 2) in ``modes`` ("fwd", "rev"), as the module docstring says; AssertionError naming the
    check that failed."""
    if order not in (1, 2):
        raise ValueError(f"check_grads: order must be 1 or 2, got {order!r}")
    modes = tuple(modes)
    if not modes or any(m not in ("fwd", "rev") for m in modes):
        raise ValueError(f"check_grads: modes must be a tuple of 'fwd' and 'rev', got {modes!r}")
    leaves, treedef = _float_leaves(args)
    eps, rtol, atol = _tolerances(leaves, eps, rtol, atol)
    rng = np.random.default_rng(seed)
    u = [rng.standard_normal(leaf.shape).astype(leaf.dtype) for leaf in leaves]
    call = jit(lambda *xs: f(*unflatten(treedef, list(xs))), target=target, tiered=False)
    out_leaves, out_tree = flatten(call(*leaves))
    outs = [np.asarray(o) for o in out_leaves]
    v = [rng.standard_normal(o.shape).astype(o.dtype) if o.dtype.kind == "f" else np.zeros_like(o) for o in outs]
    plus = flatten(call(*(x + eps * d for x, d in zip(leaves, u))))[0]
    minus = flatten(call(*(x - eps * d for x, d in zip(leaves, u))))[0]
    numeric = [(np.asarray(p, "float64") - np.asarray(m, "float64")) / (2 * eps) for p, m in zip(plus, minus)]
    floats = [n for n, o in enumerate(outs) if o.dtype.kind == "f"]

    def tangent_of(*xs):
        return jvp(lambda *ys: f(*unflatten(treedef, list(ys))), tuple(xs), tuple(u))[1]

    def cotangent_of(*xs):
        _, pullback = vjp(lambda *ys: f(*unflatten(treedef, list(ys))), *xs)
        return pullback(unflatten(out_tree, v))

    tangent = cotangent = None
    if "fwd" in modes:
        tangent = flatten(jit(tangent_of, target=target, tiered=False)(*leaves))[0]
        for n in floats:
            _close(tangent[n], numeric[n], rtol, atol, f"check_grads: forward mode (jvp) vs finite differences, "
                                                        f"output leaf {n}")
    if "rev" in modes:
        cotangent = flatten(jit(cotangent_of, target=target, tiered=False)(*leaves))[0]
        rev, fd = _inner(cotangent, u), _inner([v[n] for n in floats], [numeric[n] for n in floats])
        _close(rev, fd, rtol, atol, "check_grads: reverse mode (vjp): <vjp(v), u> vs <v, finite differences>")
        if tangent is not None:
            fwd = _inner([v[n] for n in floats], [tangent[n] for n in floats])
            _close(rev, fwd, max(rtol * 1e-3, 1e-12), atol * 1e-3, "check_grads: reverse mode vs forward mode: "
                                                                    "<vjp(v), u> vs <v, jvp(u)>")
    if order == 2:
        unpack = lambda g: lambda *xs: g(*flatten(tuple(xs))[0])  # noqa: E731 - the derivative of the pytree
        if "fwd" in modes:
            check_grads(unpack(tangent_of), args, 1, modes, eps=eps, rtol=rtol, atol=atol, target=target, seed=seed + 1)
        if "rev" in modes:
            check_grads(unpack(cotangent_of), args, 1, modes, eps=eps, rtol=rtol, atol=atol, target=target, seed=seed + 2)
