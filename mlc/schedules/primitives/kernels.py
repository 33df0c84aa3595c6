"""Primitives that replace a whole function by a kernel written out for it: ``wgmma_gemm``, the
Hopper warpgroup-MMA GEMM of :mod:`mlc.schedules.gpu.wgmma`.

Recorded in the trace like any primitive, so the tuner's GPU space can sample the kernel's
blocks and a database record replays it::

    with T.block("C"): C[vi, vj] += f32(A[vi, vk]) * f32(B[vk, vj])
    ->  sch.wgmma_gemm(sch.get_block("C"), 128, 128, 3, 2, 1, 64)
    ->  for bid in T.thread_binding(..., "blockIdx.x"): ... wgmma.mma_async ...
"""
from __future__ import annotations

from ..base import ScheduleBase, instruction
from ..gpu.wgmma import WgmmaTile, schedule_wgmma_matmul

__all__ = ["KernelPrimitives"]


class KernelPrimitives(ScheduleBase):

    @instruction
    def wgmma_gemm(self, block, block_m: int, block_n: int, stages: int, warpgroups: int, in_flight: int = 1,
                   block_k: int = 64, proxy_fence: bool = True, persistent: int = 0) -> None:
        """Replace the function of matmul ``block`` (``C[i, j] += f32(A[i, k]) * f32(B[k, j])``,
        float16 A and B, float32 C, nothing else) by the wgmma kernel of that block
        (:class:`~mlc.schedules.gpu.wgmma.WgmmaTile`). A ScheduleError where the function is
        not that matmul or the block does not divide its shape.

        >>> import mlc
        >>> from mlc import te
        >>> A, B = te.placeholder((128, 64), "float16", "A"), te.placeholder((64, 128), "float16", "B")
        >>> k = te.reduce_axis((0, 64), "k")
        >>> C = te.compute((128, 128), lambda i, j: te.sum(A[i, k].astype("float32") * B[k, j].astype("float32"),
        ...                                                  axis=k), "C")
        >>> sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B, C])}))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((128, 64), "float16"), B: T.Buffer((64, 128), "float16"), C: T.Buffer((128, 128), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i, j, k in T.grid(128, 128, 64):
                with T.block("C"):
                    vi, vj, vk = T.axis.remap("SSR", [i, j, k])
                    T.reads(A[vi, vk], B[vk, vj])
                    T.writes(C[vi, vj])
                    with T.init():
                        C[vi, vj] = T.float32(0)
                    C[vi, vj] = C[vi, vj] + T.Cast("float32", A[vi, vk]) * T.Cast("float32", B[vk, vj])
        >>> sch.wgmma_gemm(sch.get_block("C"), 64, 64, 2, 1, 0)
        >>> from mlc.ir.extern import CallExtern
        >>> from mlc.ir.functor import pre_order_nodes
        >>> print(sorted({n.name for n in pre_order_nodes(sch.mod["main"].body) if isinstance(n, CallExtern)}))
        ['mlc_fence_proxy_async', 'mlc_wgmma_commit', 'mlc_wgmma_fence', 'mlc_wgmma_m64n64k16_f32f16', 'mlc_wgmma_wait']
        >>> [i.kind for i in sch.trace.insts]
        ['get_block', 'wgmma_gemm']
        """
        fname, _, loc = self._block(block, "wgmma_gemm")
        tile = WgmmaTile(block_m, block_n, stages, warpgroups, in_flight, block_k, proxy_fence, persistent)
        schedule_wgmma_matmul(self, loc.node.block.name_hint, fname, tile)
