"""Rules of the random number ops: their results do not vary with anything differentiable.

``random.bits``, ``random.unit`` and ``random.threefry2x32`` compute from a key
(and counters) of unsigned integers: zero derivatives. ``random.gamma``'s
samples do depend on the shape parameter ``a``, through the rejection
sampler; that derivative (an implicit reparameterisation, as JAX computes it)
is not implemented, and differentiating through it is a TraceError, never a
zero. A batch of keys runs the op once per key (:func:`~.core.loop_batch`); a
batch of counters is one call.
"""
from __future__ import annotations

from ...errors import TraceError
from ..registry import define_rules
from .core import ZeroRules, apply_op, is_zero, loop_batch, move_batch_to_front

__all__: list[str] = []


def _gamma_unsupported(*args, **attrs):
    raise TraceError("random.gamma: the derivative of gamma samples with respect to their shape parameter "
                     "is not implemented; pass the shape parameter through mlc.stop_gradient to differentiate "
                     "the rest")


def _gamma_jvp(primals, tangents, out, **attrs):
    if is_zero(tangents[1]):
        return None
    return _gamma_unsupported()


def _gamma_vjp(ct, primals, out, **attrs):
    return _gamma_unsupported()


def _threefry_batch(args, dims):
    (key, counters), (dk, dc) = args, dims
    if dk is None:
        return apply_op("random.threefry2x32", key, move_batch_to_front(counters, dc)), 0
    return loop_batch("random.threefry2x32")(args, dims)


def _register() -> None:
    for name in ("random.bits", "random.unit"):
        define_rules(name, **ZeroRules, batch=loop_batch(name))
    define_rules("random.threefry2x32", **ZeroRules, batch=_threefry_batch)
    define_rules("random.gamma", jvp=_gamma_jvp, vjp=_gamma_vjp, batch=loop_batch("random.gamma"))


_register()
