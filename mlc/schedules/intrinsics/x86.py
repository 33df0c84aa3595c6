"""x86 tensor intrinsics: AVX-512 VNNI int8 dot products and the float32 register tile.

``x86_vnni_dot_16x4_s8s8`` (and ``..._u8s8``, A unsigned): 16 int32 lanes,
each accumulating a 4-element dot product of int8 values::

    for j, k in T.grid(16, 4):
        with T.block("update"):
            vj, vk = T.axis.remap("SR", [j, k])
            C[vj] = C[vj] + T.Cast("int32", A[vk]) * T.Cast("int32", B[vj, vk])

implemented by one ``vpdpbusd`` (the llvm backend's micro-kernel
``mlc_x86_vnni_dot_16x4_...``, :mod:`mlc.backends.llvm.extern`)::

    T.evaluate(T.call_extern("int32", "mlc_x86_vnni_dot_16x4_s8s8",
                             T.address_of(C[0]), T.address_of(A[0]), T.address_of(B[0, 0])))

B is 16 rows of 4 bytes, one 64-byte vector: a matmul packs its B into
``B_packed[k // 4, j, k % 4]`` for it. A CPU without ``avx512vnni`` cannot run
them; the default schedule uses them only where the target has it
(:func:`has_vnni`).

``x86_mac_{MR}x{NR}_f32`` is the float32 register tile of the default matmul
schedule (:mod:`mlc.schedules.default.matmul`) as an intrinsic: MR rows of NR
accumulators, each updated with a broadcast of A times a vector of B::

    for i, j in T.grid(MR, NR):
        with T.block("update"):
            vi, vj, vk = T.axis.remap("SSR", [i, j, 0])
            C[vi, vj] = C[vi, vj] + A[vi, vk] * B[vk, vj]

implemented with the rows unrolled and the columns vectorized.
"""
from __future__ import annotations

import functools

from ...errors import MLCError
from ...ir.buffer import decl_buffer
from ...ir.expr import IterVar, Range, Var, const
from ...ir.extern import address_of, call_extern
from ...ir.tir import Block, BlockRealize, BufferStore, Evaluate, For
from ..tensor_intrin import TensorIntrin
from ._ir import intrin_func, point_region, whole_region

__all__ = ["VNNI_FEATURE", "VNNI_S8S8", "VNNI_U8S8", "MAC_F32", "VNNI_LANES", "VNNI_GROUP",
           "has_vnni", "mac_f32_name"]

VNNI_FEATURE = "avx512vnni"
VNNI_LANES, VNNI_GROUP = 16, 4
VNNI_S8S8 = "x86_vnni_dot_16x4_s8s8"
VNNI_U8S8 = "x86_vnni_dot_16x4_u8s8"
#: (MR, NR) float32 register tiles registered as ``x86_mac_{MR}x{NR}_f32``.
MAC_F32 = ((4, 16), (8, 16), (4, 32), (8, 32))


def has_vnni(target) -> bool:
    """Whether code for ``target`` (a :class:`~mlc.Target`) may use AVX-512 VNNI, as its
    kind says (the llvm kind's ``avx512_vnni``: the feature string's ``+avx512vnni`` or,
    where it says nothing, the CPU's own features, with 512-bit vectors); a target of a
    kind that does not say has none.

    >>> from mlc import Target
    >>> has_vnni(Target("llvm", "cascadelake")), has_vnni(Target("llvm", "haswell"))  # each CPU's own features
    (True, False)
    >>> has_vnni(Target("llvm", "znver4", "-avx512f"))  # (AVX-512 off: VNNI's 512-bit form with it)
    False
    """
    try:
        return bool(target.get("avx512_vnni"))
    except (MLCError, AttributeError):
        return False


def _vnni(name: str, a_dtype: str, kernel: str) -> None:
    A = decl_buffer((VNNI_GROUP,), a_dtype, "A")
    B = decl_buffer((VNNI_LANES, VNNI_GROUP), "int8", "B")
    C = decl_buffer((VNNI_LANES,), "int32", "C")
    j, k = Var("j"), Var("k")
    vj = IterVar(Var("vj"), Range.from_extent(VNNI_LANES), "spatial")
    vk = IterVar(Var("vk"), Range.from_extent(VNNI_GROUP), "reduce")
    x, y = vj.var, vk.var
    value = C[x] + A[y].astype("int32") * B[x, y].astype("int32")
    update = Block("update", (vj, vk), (point_region(C, x), point_region(A, y), point_region(B, x, y)), (point_region(C, x),),
                   BufferStore(C, value, (x,)))
    desc = intrin_func((A, B, C), For(j, const(0), const(VNNI_LANES), "serial",
                                For(k, const(0), const(VNNI_GROUP), "serial",
                                    BlockRealize((j, k), const(True, "bool"), update))))
    Ai, Bi, Ci = (decl_buffer(b.shape, b.dtype, b.name) for b in (A, B, C))
    call = call_extern("int32", kernel, address_of(Ci[0]), address_of(Ai[0]), address_of(Bi[0, 0]))
    impl = intrin_func((Ai, Bi, Ci), Evaluate(call), (whole_region(Ci), whole_region(Ai), whole_region(Bi)), (whole_region(Ci),))
    TensorIntrin.register(name, desc, impl, override=True)


def mac_f32_name(mr: int, nr: int) -> str:
    return f"x86_mac_{mr}x{nr}_f32"


def _mac_f32(mr: int, nr: int) -> None:
    A, B, C = (decl_buffer(s, "float32", n) for n, s in (("A", (mr, 1)), ("B", (1, nr)), ("C", (mr, nr))))
    i, j = Var("i"), Var("j")
    vi = IterVar(Var("vi"), Range.from_extent(mr), "spatial")
    vj = IterVar(Var("vj"), Range.from_extent(nr), "spatial")
    vk = IterVar(Var("vk"), Range.from_extent(1), "reduce")
    a, b, c = vi.var, vj.var, vk.var
    update = Block("update", (vi, vj, vk), (point_region(C, a, b), point_region(A, a, c), point_region(B, c, b)),
                   (point_region(C, a, b),), BufferStore(C, C[a, b] + A[a, c] * B[c, b], (a, b)))
    zero = const(0)
    desc = intrin_func((A, B, C), For(i, zero, const(mr), "serial", For(j, zero, const(nr), "serial",
                 BlockRealize((i, j, zero), const(True, "bool"), update))))
    Ai, Bi, Ci = (decl_buffer(x.shape, "float32", x.name) for x in (A, B, C))
    ii, ji = Var("i"), Var("j")
    impl = intrin_func((Ai, Bi, Ci), For(ii, zero, const(mr), "unrolled", For(ji, zero, const(nr), "vectorized",
                 BufferStore(Ci, Ci[ii, ji] + Ai[ii, 0] * Bi[0, ji], (ii, ji)))))
    TensorIntrin.register(mac_f32_name(mr, nr), desc, impl, override=True)


TensorIntrin.provide(VNNI_S8S8, functools.partial(_vnni, VNNI_S8S8, "int8", "mlc_x86_vnni_dot_16x4_s8s8"))
TensorIntrin.provide(VNNI_U8S8, functools.partial(_vnni, VNNI_U8S8, "uint8", "mlc_x86_vnni_dot_16x4_u8s8"))
for _mr, _nr in MAC_F32:
    TensorIntrin.provide(mac_f32_name(_mr, _nr), functools.partial(_mac_f32, _mr, _nr))
