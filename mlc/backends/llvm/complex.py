"""Complex values in LLVM: ``{float, float}`` pairs, and the complex calls libm has.

A complex64 (complex128) value is the literal struct ``{float, float}``
(``{double, double}``) of its real and imaginary parts, in registers and in
memory alike: a buffer holds interleaved pairs, as NumPy stores them. Every
operation on complex values is float TIR by the time it reaches codegen
(:mod:`mlc.passes.tir.lower_complex`); the backend has only the three
primitives ``complex(re, im)``, ``real(z)`` and ``imag(z)``, and registers as
native the trigonometric functions and the inverse ones, circular and
hyperbolic, which libm's ``csin``, ``cacos``, ``casinh``... compute
(:data:`LIBM_COMPLEX_CALLS`, the functions NumPy calls), so the pass keeps them.
"""
from __future__ import annotations

from llvmlite import ir

from ...errors import CompileError
from ...ir import dtype as dt
from ..intrinsics import register_intrinsic_lowering
from .intrinsics import BACKEND, FLOAT_COMPUTE, declare
from .types import I32

__all__ = ["parts", "make", "LIBM_COMPLEX_CALLS"]

#: Math calls on complex operands computed by libm's C99 complex functions (NumPy calls the
#: same ones): op -> (complex64's function, complex128's).
LIBM_COMPLEX_CALLS = {op: ("c" + op + "f", "c" + op) for op in (
    "sin", "cos", "tan", "asin", "acos", "atan", "asinh", "acosh", "atanh")}


def parts(b: ir.IRBuilder, z: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(real, imaginary) of the complex value ``z``."""
    return b.extract_value(z, 0), b.extract_value(z, 1)


def make(b: ir.IRBuilder, re: ir.Value, im: ir.Value) -> ir.Value:
    """The complex value ``re + im j`` of two float values of one type."""
    ty = ir.LiteralStructType([re.type, re.type])
    return b.insert_value(b.insert_value(ir.Constant(ty, ir.Undefined), re, 0), im, 1)


def _libm_complex(b, names, z):
    """``names[0](z)`` (float complex) or ``names[1](z)`` (double complex) through the x86-64
    System V ABI, as C compilers call them: ``<2 x float>`` in and out for float complex, two
    doubles in and ``{double, double}`` out for double complex."""
    triple = b.module.triple or ""
    if not triple.startswith("x86_64"):
        raise CompileError(f"{names[1]}: the llvm backend calls libm's complex functions on x86-64 "
                           f"only, not on {triple or 'this target'}")
    re, im = parts(b, z)
    if isinstance(re.type, ir.FloatType):
        vec = ir.VectorType(re.type, 2)
        fn = declare(b.module, names[0], ir.FunctionType(vec, [vec]))
        arg = b.insert_element(b.insert_element(ir.Constant(vec, ir.Undefined), re, ir.Constant(I32, 0)),
                               im, ir.Constant(I32, 1))
        out = b.call(fn, [arg])
        return make(b, b.extract_element(out, ir.Constant(I32, 0)), b.extract_element(out, ir.Constant(I32, 1)))
    fn = declare(b.module, names[1], ir.FunctionType(z.type, [re.type, re.type]))
    return b.call(fn, [re, im])


def _register() -> None:
    for op, names in LIBM_COMPLEX_CALLS.items():
        register_intrinsic_lowering(BACKEND, op, lambda b, args, dtype, fast, names=names:
                                    _libm_complex(b, names, args[0]), dtypes=dt.COMPLEX)
    register_intrinsic_lowering(BACKEND, "real", lambda b, args, dtype, fast: parts(b, args[0])[0],
                                dtypes=dt.COMPLEX)
    register_intrinsic_lowering(BACKEND, "imag", lambda b, args, dtype, fast: parts(b, args[0])[1],
                                dtypes=dt.COMPLEX)
    register_intrinsic_lowering(BACKEND, "complex", lambda b, args, dtype, fast: make(b, *args),
                                dtypes=FLOAT_COMPUTE)


_register()
