"""CUDA C of asynchronous copies into shared memory (:mod:`mlc.passes.tir.async_copy`).

In an async scope, a store of a global buffer's load into a shared buffer of 4,
8 or 16 bytes (an aligned vector, or one element of 4 or 8 bytes) becomes one
``cp.async`` (``.cg``, around L1, for 16 bytes; ``.ca`` below), issued without
waiting for the data; commit and wait become ``cp.async.commit_group`` and
``cp.async.wait_group n``::

    A_shared[T.Ramp(r * 40 + c * 8, 1, 8)] = A[T.Ramp(r * 256 + c * 8, 1, 8)]   (float16 x 8)
    ->
    mlc_cp_async_16(A_shared + (r * 40 + c * 8), A + (r * 256 + c * 8));

A store of another form in an async scope (a scalar float16, a conversion) is an
ordinary store: complete when issued, which is all a wait promises. The helpers
of :data:`ASYNC_PRELUDE` copy synchronously where the architecture has no
``cp.async`` (``__CUDA_ARCH__ < 800``), so one source serves every target.
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.expr import Call
from ...ir.functor import pre_order_nodes
from ...ir.tir import BufferStore
from ...passes.tir.async_copy import CP_ASYNC_COMMIT, CP_ASYNC_WAIT, async_copy_source, is_async_scope
from .vector import aligned

__all__ = ["ASYNC_PRELUDE", "uses_async", "async_targets", "render_async_store", "render_async_call"]

#: The bytes one ``cp.async`` moves: 4, 8 or 16.
CP_ASYNC_BYTES = (4, 8, 16)

ASYNC_PRELUDE = r"""
template <int N> __device__ __forceinline__ void mlc_cp_async(void* dst, const void* src) {
#if __CUDA_ARCH__ >= 800
  unsigned s = (unsigned)__cvta_generic_to_shared(dst);
  size_t g = __cvta_generic_to_global(src);
  if (N == 16) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" :: "r"(s), "l"(g) : "memory");
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" :: "r"(s), "l"(g), "n"(N) : "memory");
  }
#else
  if (N == 16) *(uint4*)dst = *(const uint4*)src;
  else if (N == 8) *(uint2*)dst = *(const uint2*)src;
  else *(unsigned*)dst = *(const unsigned*)src;
#endif
}
__device__ __forceinline__ void mlc_cp_async_commit() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
template <int N> __device__ __forceinline__ void mlc_cp_async_wait() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" :: "n"(N) : "memory");
#endif
}
"""


def uses_async(body) -> bool:
    """Whether lowered ``body`` has async scopes (its source then needs :data:`ASYNC_PRELUDE`)."""
    return any(is_async_scope(n) for n in pre_order_nodes(body))


def _copy_bytes(s: BufferStore) -> int | None:
    """The bytes ``s`` moves as one ``cp.async``, or None where it is no such copy."""
    src = async_copy_source(s)
    if src is None or len(s.indices) != 1 or len(src.indices) != 1:
        return None
    lanes = dt.lanes(s.indices[0].dtype)
    size = lanes * dt.bits(s.buffer.dtype) // 8
    if size not in CP_ASYNC_BYTES or dt.lanes(src.indices[0].dtype) != lanes:
        return None
    if lanes > 1 and not (aligned(s.indices[0], lanes) and aligned(src.indices[0], lanes)):
        return None
    return size


def async_targets(body) -> set[int]:
    """ids of the shared buffers written by ``cp.async`` under ``body`` (declared 16-byte aligned)."""
    out = set()
    for scope in (n for n in pre_order_nodes(body) if is_async_scope(n)):
        out |= {id(n.buffer) for n in pre_order_nodes(scope) if isinstance(n, BufferStore) and _copy_bytes(n)}
    return out


def render_async_store(writer, s: BufferStore, pad: str) -> bool:
    """Emit store ``s`` of an async scope as one ``cp.async`` through ``writer`` (the kernel
    writer of :mod:`.codegen`); False where it is no such copy (then an ordinary store)."""
    size = _copy_bytes(s)
    if size is None:
        return False
    src = s.value
    to, at = s.indices[0], src.indices[0]
    if dt.lanes(to.dtype) > 1:
        to, at = to.base, at.base
    dst = writer.expr(to, id(s.buffer) in writer.wide)
    where = writer.expr(at, id(src.buffer) in writer.wide)
    writer.emit(f"{pad}mlc_cp_async<{size}>({writer.names[id(s.buffer)]} + {dst}, "
                f"{writer.names[id(src.buffer)]} + {where});")
    return True


def render_async_call(e) -> str | None:
    """C of a commit or wait call, else None."""
    if isinstance(e, Call) and e.op == CP_ASYNC_COMMIT:
        return "mlc_cp_async_commit()"
    if isinstance(e, Call) and e.op == CP_ASYNC_WAIT:
        return f"mlc_cp_async_wait<{e.args[0].value}>()"
    return None
