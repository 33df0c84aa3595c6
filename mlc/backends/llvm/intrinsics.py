"""Math calls: LLVM intrinsics where they exist, registered libm functions otherwise.

exp, expm1, log, tanh, sigmoid and erf on floats are not here: they are
vectorisable IR of :mod:`.vecmath` (the codegen asks it first). Every
external function a kernel may call is declared here and nowhere else, so
the list of external symbols a module can need is known: LLVM intrinsics
(``llvm.sin.f32`` ...) lower to the libm functions listed in
:mod:`mlc.backends.llvm.symbols`, which registers their addresses.

Values arrive in their compute type (float16 already widened to float32).
"""
from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from ...errors import CompileError
from ...ir import dtype as dt
from .types import I1

__all__ = ["declare", "call_intrinsic", "call_libm", "emit_math", "LIBM_CALLS"]

#: Call ops computed by a libm function without an LLVM intrinsic: op -> (float name, double name).
LIBM_CALLS = {name: (name + "f", name) for name in (
    "log1p", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
    "atan2", "hypot", "nextafter")}

#: Call ops that are exactly one LLVM intrinsic of the same arity.
_INTRINSIC_CALLS = {"sqrt": "sqrt", "sin": "sin", "cos": "cos",
                    "pow": "pow", "floor": "floor", "ceil": "ceil", "round": "roundeven",
                    "abs": "fabs", "log2": "log2", "log10": "log10", "copysign": "copysign"}


def declare(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    """The function ``name`` of ``module``, declared on first use."""
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, fnty, name=name)
        if name.startswith("llvm."):
            fn.attributes.add("nounwind")
    return fn


def call_intrinsic(builder: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    """``llvm.<name>.<type>(*args)`` overloaded on the first argument's type."""
    ty = args[0].type
    fnty = ir.FunctionType(ty, [a.type for a in args])
    return builder.call(declare(builder.module, f"llvm.{name}.{ty.intrinsic_name}", fnty), list(args))


def call_libm(builder: ir.IRBuilder, names: tuple[str, str], *args: ir.Value) -> ir.Value:
    """A libm function of ``args`` (one type): ``names[0]`` for float, ``names[1]`` for double."""
    ty = args[0].type
    name = names[0] if isinstance(ty, ir.FloatType) else names[1]
    fn = declare(builder.module, name, ir.FunctionType(ty, [ty] * len(args)))
    return builder.call(fn, list(args))


def _const(ty: ir.Type, value: float) -> ir.Constant:
    return ir.Constant(ty, value)


def _rsqrt(b, x):
    return b.fdiv(_const(x.type, 1.0), call_intrinsic(b, "sqrt", x))


def _isnan(b, x):
    return b.fcmp_unordered("uno", x, x)


def _isinf(b, x):
    return b.fcmp_ordered("==", call_intrinsic(b, "fabs", x), _const(x.type, float("inf")))


def _isfinite(b, x):
    return b.fcmp_ordered("<", call_intrinsic(b, "fabs", x), _const(x.type, float("inf")))


_COMPOSED: dict[str, Callable] = {"rsqrt": _rsqrt, "isnan": _isnan,
                                  "isinf": _isinf, "isfinite": _isfinite}


def emit_math(builder: ir.IRBuilder, op: str, args: list[ir.Value], dtype: str) -> ir.Value:
    """``op(*args)`` (a :data:`mlc.ir.expr.MATH_OPS` name) on values of compute dtype ``dtype``."""
    if not dt.is_float(dtype):
        return _integer_math(builder, op, args[0], dtype)
    if op in _INTRINSIC_CALLS:
        return call_intrinsic(builder, _INTRINSIC_CALLS[op], *args)
    if op in LIBM_CALLS:
        return call_libm(builder, LIBM_CALLS[op], *args)
    if op in _COMPOSED:
        return _COMPOSED[op](builder, args[0])
    raise CompileError(f"the llvm backend has no implementation of math call {op!r} on {dtype} "
                       "here (exp, expm1, log, tanh, sigmoid and erf are in vecmath)")


def _integer_math(builder: ir.IRBuilder, op: str, x: ir.Value, dtype: str) -> ir.Value:
    """Math calls the expression builders allow on integers and bools."""
    if op in ("floor", "ceil", "round"):
        return x
    if op == "abs":
        if not dt.is_signed(dtype):
            return x
        negative = builder.icmp_signed("<", x, ir.Constant(x.type, 0))
        return builder.select(negative, builder.neg(x), x)  # abs(INT_MIN) wraps, as NumPy's
    if op in ("isnan", "isinf"):
        return ir.Constant(I1, 0)
    if op == "isfinite":
        return ir.Constant(I1, 1)
    raise CompileError(f"math call {op} needs a float operand, got {dtype}")
