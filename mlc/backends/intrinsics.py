"""How each backend lowers each math call: the intrinsic registry.

The op table (:data:`mlc.ir.ops.MATH_CALLS`) says what a math call means; a
backend says how it computes it by registering one lowering per op, keyed by
the backend's name (``Backend.name``):

    register_intrinsic_lowering("llvm", "erfc", libm("erfcf", "erfc"))
    register_intrinsic_lowering("cuda", "exp", fast_exp, dtypes=("float32",))

What a lowering takes and returns is the backend's business (LLVM's take the
IR builder, the argument values, the compute dtype and the ``fast_math``
flag); the registry only files them. Codegen asks
:func:`intrinsic_lowering`, which names the op, the dtype and the backend when
there is none, so a math call a backend has not learnt is a clear
CompileError, never wrong code.

>>> register_intrinsic_lowering("doc-backend", "exp", lambda x: f"expf({x})", dtypes=("float32",))
>>> intrinsic_lowering("doc-backend", "exp", "float32")("x")
'expf(x)'
>>> intrinsic_lowering("doc-backend", "exp", "float64")
Traceback (most recent call last):
    ...
mlc.errors.CompileError: the doc-backend backend has no lowering of math call exp for float64 (it lowers exp for float32); register one with mlc.backends.intrinsics.register_intrinsic_lowering('doc-backend', 'exp', ...) or cast the operand
>>> len(unregister_intrinsic_lowering("doc-backend", "exp"))
1
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from ..errors import CompileError, MLCError
from ..ir.ops import MATH_CALLS

__all__ = ["register_intrinsic_lowering", "unregister_intrinsic_lowering", "intrinsic_lowering",
           "has_intrinsic_lowering", "lowered_ops"]

#: (backend, op) -> [(dtypes or None for all, lowering)], in registration order.
_LOWERINGS: dict[tuple[str, str], list[tuple[frozenset[str] | None, Callable]]] = {}


def register_intrinsic_lowering(backend: str, op: str, lowering: Callable,
                                dtypes: Iterable[str] | None = None) -> None:
    """Make ``lowering`` how ``backend`` computes the math call ``op`` on operands of
    ``dtypes`` (every dtype when None). One lowering per (backend, op, dtype)."""
    if op not in MATH_CALLS:
        raise MLCError(f"register_intrinsic_lowering: {op!r} is not a math call of the op table "
                       f"(mlc.ir.ops.MATH_CALLS); add it there first. Known: {', '.join(MATH_CALLS)}")
    if not callable(lowering):
        raise MLCError(f"register_intrinsic_lowering: the lowering of {op} for {backend} must be "
                       f"callable, got {lowering!r}")
    wanted = None if dtypes is None else frozenset(dtypes)
    entries = _LOWERINGS.setdefault((backend, op), [])
    for have, _ in entries:
        if have is None or wanted is None or have & wanted:
            clash = "every dtype" if have is None or wanted is None else ", ".join(sorted(have & wanted))
            raise MLCError(f"the {backend} backend already has a lowering of math call {op} for "
                           f"{clash}; unregister_intrinsic_lowering({backend!r}, {op!r}) first")
    entries.append((wanted, lowering))


def unregister_intrinsic_lowering(backend: str, op: str) -> list[tuple[frozenset[str] | None, Callable]]:
    """Forget every lowering of ``op`` by ``backend`` (tests, replacements); return them
    as ``(dtypes, lowering)`` pairs, so they can be registered again."""
    return _LOWERINGS.pop((backend, op), [])


def intrinsic_lowering(backend: str, op: str, dtype: str) -> Callable:
    """The lowering ``backend`` registered for ``op`` on operands of ``dtype``;
    CompileError naming the op, dtype and backend when it has none."""
    entries = _LOWERINGS.get((backend, op), ())
    for have, lowering in entries:
        if have is None or dtype in have:
            return lowering
    if entries:
        known = sorted(d for have, _ in entries for d in have)  # no entry is "every dtype" here
        why, fix = f"it lowers {op} for {', '.join(known)}", " or cast the operand"
    else:
        ops = lowered_ops(backend)
        why = f"it lowers {', '.join(sorted(ops))}" if ops else "it registered no math lowerings"
        fix = ""
    raise CompileError(f"the {backend} backend has no lowering of math call {op} for {dtype} ({why}); "
                       f"register one with mlc.backends.intrinsics.register_intrinsic_lowering("
                       f"{backend!r}, {op!r}, ...){fix}")


def has_intrinsic_lowering(backend: str, op: str, dtype: str) -> bool:
    """Whether ``backend`` registered a lowering of ``op`` for operands of ``dtype`` (the TIR
    lowering passes write out in float TIR what a backend has no native lowering of)."""
    return any(have is None or dtype in have for have, _ in _LOWERINGS.get((backend, op), ()))


def lowered_ops(backend: str) -> frozenset[str]:
    """The math calls ``backend`` has a lowering for (on some dtype)."""
    return frozenset(op for (name, op), entries in _LOWERINGS.items() if name == backend and entries)
