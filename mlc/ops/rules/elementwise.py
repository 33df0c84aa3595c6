"""Rules of the elementwise ops: each op's partial derivatives, one per input.

An elementwise op ``y = f(x0, x1, ...)`` is described by its partials
``dy/dxi`` (functions of the inputs and ``y``, written with NumPy on Tracers);
:func:`elementwise_rules` makes the JVP (``sum_i dy/dxi * ti``) and the VJP
(``ct * dy/dxi``, summed over the axes that ``xi`` was broadcast along) from
them, and :func:`~.core.broadcast_batch` batches the op. A partial of None is
a zero derivative; a Python number is a constant one (``1`` for ``add``).

Non-differentiable points follow JAX: ``abs`` at 0 has derivative
``sign(0) = 0``; at a tie of ``maximum``/``minimum`` (and ``clip`` at a
bound, ``fmax``/``fmin``) each operand gets half of the gradient; ``floor``,
``ceil``, ``trunc``, ``rint``, ``sign``, ``spacing``, ``heaviside`` and
``floor_divide`` have zero derivatives (``nextafter(x, y)`` that of ``x``); ``where``'s
condition gets none; ``x ** y`` at ``x == 0`` has ``d/dy = 0`` and
``d/dx = 0`` where ``y == 0``; ``nn.relu`` at 0 has derivative 0.
"""
from __future__ import annotations

import math

import numpy as np

from ..registry import define_rules, get_op
from .core import Zero, ZeroRules, apply_op, broadcast_batch, differentiable, is_zero, ones, unbroadcast

__all__ = ["elementwise_rules", "NONDIFFERENTIABLE_ELEMENTWISE"]


def _scaled(t, d):
    """``t * d`` where ``d`` may be the Python number 1 or -1 (no multiplication then)."""
    if isinstance(d, (int, float)):
        return t if d == 1 else (-t if d == -1 else t * d)
    return t * d


def elementwise_rules(name: str, *partials, batch=None) -> None:
    """Define op ``name``'s rules from its partials, ``partial_i(*inputs, out, **attrs)``."""

    def jvp(primals, tangents, out, **attrs):
        total = None
        for x, t, partial in zip(primals, tangents, partials):
            if is_zero(t) or partial is None:
                continue
            d = partial(*primals, out, **attrs)
            if d is None:
                continue
            term = _scaled(t, d)
            total = term if total is None else total + term
        if total is None:
            return Zero.like(out)
        return total if tuple(total.shape) == tuple(out.shape) else np.broadcast_to(total, out.shape)

    def vjp(ct, primals, out, **attrs):
        cts = []
        for x, partial in zip(primals, partials):
            d = None if partial is None or not differentiable(x.dtype) else partial(*primals, out, **attrs)
            cts.append(None if d is None else unbroadcast(_scaled(ct, d), x.shape))
        return tuple(cts)

    jvp.__name__, vjp.__name__ = f"jvp_{name}", f"vjp_{name}"
    define_rules(name, jvp=jvp, vjp=vjp, batch=batch or _batch(name, len(partials)))


def _unary_batch(name):
    def rule(args, dims, **attrs):
        return apply_op(name, *args, **attrs), dims[0]
    return rule


def _batch(name: str, arity: int):
    return _unary_batch(name) if arity == 1 else broadcast_batch(name)


def _mask(cond, like):
    """The bool ``cond`` as 0/1 in ``like``'s dtype."""
    return cond.astype(like.dtype)


def _tie_split(greater, equal, like):
    """1 where ``greater``, 1/2 where ``equal`` (a tie shares the gradient), else 0."""
    return _mask(greater, like) + _mask(equal, like) * 0.5


def _rsqrt_one_minus_square(x):
    return 1 / np.sqrt(1 - x * x)


_UNARY = {
    "negative": lambda x, y: -1,
    "positive": lambda x, y: 1,
    "absolute": lambda x, y: np.sign(x),
    "fabs": lambda x, y: np.sign(x),
    "exp": lambda x, y: y,
    "expm1": lambda x, y: y + 1,
    "exp2": lambda x, y: y * math.log(2),
    "log": lambda x, y: 1 / x,
    "log1p": lambda x, y: 1 / (x + 1),
    "log2": lambda x, y: 1 / (x * math.log(2)),
    "log10": lambda x, y: 1 / (x * math.log(10)),
    "sqrt": lambda x, y: 0.5 / y,
    "cbrt": lambda x, y: 1 / (3 * y * y),
    "square": lambda x, y: 2 * x,
    "reciprocal": lambda x, y: -(y * y),
    "sin": lambda x, y: np.cos(x),
    "cos": lambda x, y: -np.sin(x),
    "tan": lambda x, y: 1 + y * y,
    "arcsin": lambda x, y: _rsqrt_one_minus_square(x),
    "arccos": lambda x, y: -_rsqrt_one_minus_square(x),
    "arctan": lambda x, y: 1 / (1 + x * x),
    "sinh": lambda x, y: np.cosh(x),
    "cosh": lambda x, y: np.sinh(x),
    "tanh": lambda x, y: 1 - y * y,
    "arcsinh": lambda x, y: 1 / np.sqrt(x * x + 1),
    "arccosh": lambda x, y: 1 / (np.sqrt(x - 1) * np.sqrt(x + 1)),
    "arctanh": lambda x, y: 1 / (1 - x * x),
    "deg2rad": lambda x, y: math.pi / 180,
    "rad2deg": lambda x, y: 180 / math.pi,
    "erf": lambda x, y: np.exp(-(x * x)) * (2 / math.sqrt(math.pi)),
    "erfinv": lambda x, y: np.exp(y * y) * (math.sqrt(math.pi) / 2),
    "sigmoid": lambda x, y: y * (1 - y),
    "conjugate": lambda x, y: 1,
    "real": lambda x, y: 1,
    "imag": None,
    "astype": lambda x, y, **attrs: 1,
    "nn.relu": lambda x, y: _mask(x > 0, y),
    "nn.silu": lambda x, y, **attrs: _silu_partial(x),
    "nn.gelu": lambda x, y, approximate="none": _gelu_partial(x, approximate),
    "clip": lambda x, y, a_min=None, a_max=None: _clip_partial(x, y, a_min, a_max),
}


def _silu_partial(x):
    s = apply_op("sigmoid", x)
    return s * (1 + x * (1 - s))


def _gelu_partial(x, approximate):
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        inner = np.tanh(c * (x + 0.044715 * x * x * x))
        return 0.5 * (1 + inner) + 0.5 * x * (1 - inner * inner) * c * (1 + 3 * 0.044715 * x * x)
    cdf = 0.5 * (1 + apply_op("erf", x * (1 / math.sqrt(2))))
    return cdf + x * np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))


def _clip_partial(x, y, a_min, a_max):
    """1 strictly inside the bounds, 1/2 at a bound (clip is ``minimum(maximum(x, a_min), a_max)``),
    0 outside."""
    d = None
    if a_min is not None:
        d = _tie_split(x > a_min, x == a_min, y)
    if a_max is not None:
        upper = _tie_split(x < a_max, x == a_max, y)
        d = upper if d is None else d * upper
    return d


def _power_base(a, b, y):
    """``d(a ** b)/da = b * a ** (b - 1)``, 0 where ``b == 0`` (JAX's convention)."""
    return np.where(b == 0, 0, b * np.power(a, b - 1))


def _power_exponent(a, b, y):
    """``d(a ** b)/db = log(a) * a ** b``, with ``log(1)`` in place of ``log(0)`` (JAX's)."""
    return np.log(np.where(a == 0, 1, a)) * y


def _fmax_partial(a, b, y, greater):
    """fmax/fmin: the NaN-ignoring maximum/minimum; a NaN operand gives the other one."""
    return np.where(np.isnan(b), 1, np.where(np.isnan(a), 0, _tie_split(greater(a, b), a == b, y)))


def _copysign_partial(a, b, y):
    return 1 - 2 * _mask(np.signbit(a) != np.signbit(b), y)


_BINARY = {
    "add": (lambda a, b, y: 1, lambda a, b, y: 1),
    "subtract": (lambda a, b, y: 1, lambda a, b, y: -1),
    "multiply": (lambda a, b, y: b, lambda a, b, y: a),
    "divide": (lambda a, b, y: 1 / b, lambda a, b, y: -(y / b)),
    "maximum": (lambda a, b, y: _tie_split(a > b, a == b, y), lambda a, b, y: _tie_split(b > a, a == b, y)),
    "minimum": (lambda a, b, y: _tie_split(a < b, a == b, y), lambda a, b, y: _tie_split(b < a, a == b, y)),
    "fmax": (lambda a, b, y: _fmax_partial(a, b, y, np.greater), lambda a, b, y: _fmax_partial(b, a, y, np.greater)),
    "fmin": (lambda a, b, y: _fmax_partial(a, b, y, np.less), lambda a, b, y: _fmax_partial(b, a, y, np.less)),
    "power": (_power_base, _power_exponent),
    "float_power": (_power_base, _power_exponent),
    "arctan2": (lambda a, b, y: b / (a * a + b * b), lambda a, b, y: -(a / (a * a + b * b))),
    "hypot": (lambda a, b, y: a / y, lambda a, b, y: b / y),
    "copysign": (_copysign_partial, None),
    "logaddexp": (lambda a, b, y: np.exp(a - y), lambda a, b, y: np.exp(b - y)),
    "logaddexp2": (lambda a, b, y: np.exp2(a - y), lambda a, b, y: np.exp2(b - y)),
    "fmod": (lambda a, b, y: 1, lambda a, b, y: -np.trunc(a / b)),
    "remainder": (lambda a, b, y: 1, lambda a, b, y: -np.floor(a / b)),
    "ldexp": (lambda x, n, y: np.ldexp(ones(x), n), None),
    "nextafter": (lambda a, b, y: 1, None),
}

#: Elementwise ops that are not differentiable by design: bool or integer results, or
#: piecewise constant float results (their derivative is zero wherever it exists).
NONDIFFERENTIABLE_ELEMENTWISE = (
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift",
    "isnan", "isfinite", "isinf", "signbit",
    "sign", "floor", "ceil", "trunc", "rint", "spacing", "heaviside", "floor_divide",
    "stop_gradient",
)


def _where_jvp(primals, tangents, out, **attrs):
    c, x, y = primals
    _, tx, ty = tangents
    tx = np.zeros((), out.dtype) if is_zero(tx) else tx
    ty = np.zeros((), out.dtype) if is_zero(ty) else ty
    return np.broadcast_to(np.where(c, tx, ty), out.shape)


def _where_vjp(ct, primals, out, **attrs):
    c, x, y = primals
    return (None,
            unbroadcast(np.where(c, ct, 0), x.shape) if differentiable(x.dtype) else None,
            unbroadcast(np.where(c, 0, ct), y.shape) if differentiable(y.dtype) else None)


def _register() -> None:
    for name, partial in _UNARY.items():
        elementwise_rules(name, partial)
    for name, partials in _BINARY.items():
        elementwise_rules(name, *partials)
    for name in NONDIFFERENTIABLE_ELEMENTWISE:
        arity = 1 if get_op(name).pattern == "elemwise" else 2
        define_rules(name, **ZeroRules, batch=_batch(name, arity))
    define_rules("where", jvp=_where_jvp, vjp=_where_vjp, batch=broadcast_batch("where"))


_register()
