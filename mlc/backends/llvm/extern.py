"""External calls in kernels: ``T.call_extern`` and ``T.address_of``.

A tensor intrinsic's implementation may call a function by name with
element addresses (``T.call_extern("int32", "mlc_x86_vnni_dot_16x4_u8s8",
T.address_of(C[0]), ...)``). The functions a kernel may call this way are
the micro-kernels below, written in LLVM IR with the target's vector
intrinsics; each is defined in the module on first use (``internal``,
``alwaysinline``), so LLVM inlines it into the loop nest and keeps its
accumulators in registers, and no symbol outside the module is needed.
A name not listed here is a CompileError.

The AVX-512 VNNI kernels compute, with ``vpdpbusd`` (unsigned by signed
bytes, four products summed into each of 16 int32 lanes)::

    C[l] += sum(A[t] * B[4 * l + t] for t in range(4))     l < 16, int32 lanes

``A`` is four bytes broadcast to every lane, ``B`` 16 groups of four bytes
(one 64-byte vector). ``..._u8s8`` reads A as unsigned bytes; ``..._s8s8``
reads A as signed bytes: it flips A's sign bits (``a + 128`` as unsigned)
and subtracts ``128 * sum(B[4l:4l+4])`` (one more ``vpdpbusd`` of the
bytes 0x80 with B), which is exact in wrapping int32 arithmetic.

``mlc_prefetch_for_write(T.address_of(A[i]))`` asks the cache for the line
holding ``A[i]``, to be written soon (``llvm.prefetch``, a hint that never
faults and changes no value): a radix sort's scatter writes each bucket's
next line before the hardware prefetchers, which follow a few streams, would
have fetched it. ``mlc_prefetch_for_read`` asks for a line to be read soon: a row
kernel's first pass over a row fetching what only its later passes read
(:mod:`mlc.passes.tir.row_prefetch`); ``mlc_prefetch_for_later`` asks for it into the outer
caches only (``prefetcht1`` on x86: the L2), not the L1, whose lines in use it would evict (a row
kernel's last pass asking for the next rows' lines). ``mlc_prefetch_ahead(T.address_of(A[i]), bytes)``
asks for the line ``bytes`` past ``A[i]``, to be read soon, wherever it lies (a
register tile's packed panel: :mod:`mlc.passes.tir.prefetch`).

``mlc_vsort_f32(T.address_of(X[0]), T.address_of(Y[0]), T.address_of(F[0]), n)`` sorts the
``n`` float32 values at ``X`` into ``Y`` (``F[0]``: set to whether a NaN or -0.0 was seen), a quicksort
partitioning 16 keys a step with AVX-512's compress (:mod:`.vector_sort`, which lists the
codecs: ``f32``, ``i32_desc``, ...); ``mlc_vsort_half_<codec>(..., n, part)`` does one of two
halves of that work, which two threads run at once (``part`` 0 and 1).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llvmlite import ir

from ...errors import CompileError
from ...ir import dtype as dt
from ...ir.extern import PREFETCH_AHEAD, PREFETCH_FOR_LATER, PREFETCH_FOR_READ, PREFETCH_FOR_WRITE, AddressOf, CallExtern, vsort_name
from . import vector_sort
from .intrinsics import declare
from .targeting import lacks_features, module_target
from .types import PTR, reg_type
from .vectorize import splat

__all__ = ["EXTERN_KERNELS", "ExternKernel", "emit_call_extern", "emit_address_of"]

_I32, _I64 = ir.IntType(32), ir.IntType(64)
_V16 = ir.VectorType(_I32, 16)


@dataclass(frozen=True)
class ExternKernel:
    """A function kernels may call by name: its LLVM definition and the CPU features it needs.
    Its parameters are ``nargs`` element addresses, then ``counts`` int64 values; it returns
    ``returns`` (an LLVM integer type)."""
    name: str
    nargs: int
    features: tuple[str, ...]
    define: Callable[[ir.Function], None]
    counts: int = 0
    returns: ir.IntType = _I32


def _vpdpbusd(b: ir.IRBuilder, acc, a, w):
    fnty = ir.FunctionType(_V16, [_V16, _V16, _V16])
    module = b.module
    fn = module.globals.get("llvm.x86.avx512.vpdpbusd.512") or ir.Function(
        module, fnty, name="llvm.x86.avx512.vpdpbusd.512")
    return b.call(fn, [acc, a, w])


def _vnni_dot(signed: bool) -> Callable[[ir.Function], None]:
    def define(fn: ir.Function) -> None:
        c_ptr, a_ptr, b_ptr = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        acc = b.load(c_ptr, typ=_V16, align=4)
        a = b.load(a_ptr, typ=_I32, align=1)
        w = b.load(b_ptr, typ=_V16, align=1)
        if signed:
            bias = 0x80808080 - (1 << 32)
            a = b.xor(a, ir.Constant(_I32, bias))  # a + 128 in each byte, read as unsigned
            acc = b.sub(acc, _vpdpbusd(b, ir.Constant(_V16, [0] * 16), ir.Constant(_V16, [bias] * 16), w))
        a = splat(b, a, 16)
        b.store(_vpdpbusd(b, acc, a, w), c_ptr, align=4)
        b.ret(ir.Constant(_I32, 0))
    return define


def _prefetch(write: int, locality: int = 3, ahead: bool = False) -> Callable[[ir.Function], None]:
    """``llvm.prefetch`` of the line at the address (``ahead``: of the line the second argument's
    bytes past it): ``locality`` 3 keeps it in every cache level (x86: ``prefetcht0``,
    ``prefetchw`` for a write), 2 in all but the first (``prefetcht1``)."""
    def define(fn: ir.Function) -> None:
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        address = b.gep(fn.args[0], [fn.args[1]], source_etype=ir.IntType(8)) if ahead else fn.args[0]
        i32 = [ir.Constant(_I32, v) for v in (write, locality, 1)]  # read or write, the cache levels, data
        b.call(declare(fn.module, "llvm.prefetch.p0", ir.FunctionType(ir.VoidType(), [PTR, _I32, _I32, _I32])),
               [address, *i32])
        b.ret(ir.Constant(_I32, 0))
    return define


#: name -> kernel. Each takes element addresses and returns 0.
EXTERN_KERNELS: dict[str, ExternKernel] = {k.name: k for k in (
    ExternKernel("mlc_x86_vnni_dot_16x4_u8s8", 3, ("avx512vnni",), _vnni_dot(signed=False)),
    ExternKernel("mlc_x86_vnni_dot_16x4_s8s8", 3, ("avx512vnni",), _vnni_dot(signed=True)),
    ExternKernel(PREFETCH_FOR_WRITE, 1, (), _prefetch(write=1)),
    ExternKernel(PREFETCH_FOR_READ, 1, (), _prefetch(write=0)),
    ExternKernel(PREFETCH_FOR_LATER, 1, (), _prefetch(write=0, locality=2)),
    ExternKernel(PREFETCH_AHEAD, 1, (), _prefetch(write=0, ahead=True), counts=1),
    *(kernel for codec in vector_sort.CODECS for kernel in (
        ExternKernel(vsort_name("sort", codec), 3, ("avx512f",), vector_sort.define_sort(codec), counts=1),
        ExternKernel(vsort_name("half", codec), 3, ("avx512f",), vector_sort.define_half(codec), counts=2))),
)}


def _function(module: ir.Module, kernel: ExternKernel) -> ir.Function:
    fn = module.globals.get(kernel.name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(kernel.returns, [PTR] * kernel.nargs + [_I64] * kernel.counts),
                         name=kernel.name)
        fn.linkage = "internal"
        fn.attributes.add("alwaysinline")
        fn.attributes.add("nounwind")
        for arg in fn.args[:kernel.nargs]:
            arg.add_attribute("noalias")
        kernel.define(fn)
    return fn


def emit_call_extern(gen, e: CallExtern) -> ir.Value:
    """The call ``e`` in the function ``gen`` is emitting (a _FunctionCodegen)."""
    kernel = EXTERN_KERNELS.get(e.name)
    if kernel is None:
        raise CompileError(f"T.call_extern: the llvm backend has no function {e.name!r}; it provides "
                           f"{sorted(EXTERN_KERNELS)}")
    addresses, counts = e.args[:kernel.nargs], e.args[kernel.nargs:]
    if len(counts) != kernel.counts or not all(isinstance(a, AddressOf) for a in addresses) or \
            not all(dt.is_int(a.dtype) and not isinstance(a, AddressOf) for a in counts):
        raise CompileError(f"T.call_extern({e.name!r}): expected {kernel.nargs} element addresses "
                           f"(T.address_of(...)) and {kernel.counts} integers, got {e.args!r}")
    missing = lacks_features(gen.module, kernel.features)
    if missing:  # (LLVM would abort the process, unable to select the instruction)
        raise CompileError(f"T.call_extern({e.name!r}) needs the CPU feature(s) {', '.join(missing)}, which "
                           f"target {module_target(gen.module)} lacks; build for a CPU that has them "
                           f"(e.g. -mcpu=cascadelake) or schedule without the intrinsic that calls it")
    args = [gen.expr(a) for a in addresses] + [_int64(gen.builder, gen.expr(a)) for a in counts]
    if e.name == PREFETCH_FOR_WRITE and gen.streams_now(addresses[0].load.buffer):
        return ir.Constant(reg_type(e.dtype), 0)  # a streamed line asked into the cache is written twice
    value = gen.builder.call(_function(gen.module, kernel), args)
    return value if kernel.returns == reg_type(e.dtype) else _resize(gen.builder, value, reg_type(e.dtype))


def _int64(b: ir.IRBuilder, value: ir.Value) -> ir.Value:
    return _resize(b, value, _I64)


def _resize(b: ir.IRBuilder, value: ir.Value, ty: ir.IntType) -> ir.Value:
    """``value`` (an integer) as an integer of ``ty``, sign-extended or truncated."""
    if value.type.width == ty.width:
        return value
    return b.sext(value, ty) if value.type.width < ty.width else b.trunc(value, ty)


def emit_address_of(gen, e: AddressOf) -> ir.Value:
    """The address of the element ``e.load`` names."""
    return gen._element_ptr(e.load.buffer, e.load.indices)
