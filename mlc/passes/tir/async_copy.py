"""Asynchronous copies into shared memory (``cp.async``, sm_80+) as lowered TIR.

:func:`~mlc.passes.tir.software_pipeline.inject_software_pipeline` makes them
from a loop annotated ``software_pipeline_async_stages``; the CUDA codegen
renders them and the emulator runs them with their meaning:

- an *async scope* is a unit loop annotated :data:`ASYNC_COPY` around the
  statements of one fetch. Each store in it into a ``shared`` buffer of a
  global buffer's load (a cooperative fetch: ``A_shared[...] = A[...]``, a
  vector of 4, 8 or 16 bytes or one element of 4 or 8) is an asynchronous
  copy: issued now, written some time before the thread's next
  ``cp.async.wait_group`` that covers it;
- ``Evaluate(Call("cp_async_commit", ()))`` (:func:`commit`) closes the
  thread's copies issued since the last commit into a *group*;
- ``Evaluate(Call("cp_async_wait", (n,)))`` (:func:`wait`) waits until at
  most ``n`` of the thread's groups are still in flight.

A copy is visible to its own thread after the wait that covers it, and to the
other threads of its block after a ``__syncthreads()`` that follows that wait::

    for k in range(3):                              # a two-stage pipeline
        with async scope:                           # T.unit loop, annotation async_copy
            A_shared[(k + 1) % 2 * 512 + t] = A[...]
        cp_async_commit()
        cp_async_wait(1)                            # the group of step k is complete
        __syncthreads()                             # (insert_thread_sync)
        compute(A_shared[k % 2 * 512 + ...])

On an architecture without ``cp.async`` (before sm_80) the codegen's helpers
copy synchronously and commit/wait do nothing: the same program, in order.
"""
from __future__ import annotations

from ...ir.expr import BufferLoad, Call, IntImm, Var, const
from ...ir.tir import BufferStore, Evaluate, For, Stmt

__all__ = ["ASYNC_COPY", "CP_ASYNC_COMMIT", "CP_ASYNC_WAIT", "async_scope", "commit", "wait", "is_async_scope",
           "is_commit", "wait_count", "async_copy_source"]

#: The annotation of a unit loop whose shared-memory fetches are asynchronous copies.
ASYNC_COPY = "async_copy"
#: The Call op closing the thread's issued copies into a group (``cp.async.commit_group``).
CP_ASYNC_COMMIT = "cp_async_commit"
#: The Call op waiting until at most ``n`` groups are in flight (``cp.async.wait_group n``).
CP_ASYNC_WAIT = "cp_async_wait"


def async_scope(body: Stmt) -> For:
    """``body`` in an async scope: a unit loop annotated :data:`ASYNC_COPY`."""
    return For(Var("async_scope"), const(0), const(1), "serial", body, None, ((ASYNC_COPY, True),))


def commit() -> Evaluate:
    return Evaluate(Call(CP_ASYNC_COMMIT, (), "int32"))


def wait(n: int) -> Evaluate:
    return Evaluate(Call(CP_ASYNC_WAIT, (const(n),), "int32"))


def is_async_scope(stmt) -> bool:
    return isinstance(stmt, For) and any(k == ASYNC_COPY for k, _ in stmt.annotations)


def is_commit(stmt) -> bool:
    return isinstance(stmt, Evaluate) and isinstance(stmt.value, Call) and stmt.value.op == CP_ASYNC_COMMIT


def wait_count(stmt) -> int | None:
    """``n`` of a ``cp_async_wait(n)`` statement, else None."""
    if isinstance(stmt, Evaluate) and isinstance(stmt.value, Call) and stmt.value.op == CP_ASYNC_WAIT:
        n = stmt.value.args[0]
        return n.value if isinstance(n, IntImm) else None
    return None


def async_copy_source(store: BufferStore) -> BufferLoad | None:
    """The global load that ``store`` copies into shared memory (of the same element type),
    else None: what an async scope makes asynchronous."""
    value = store.value
    if store.buffer.scope != "shared" or not isinstance(value, BufferLoad):
        return None
    if value.buffer.scope != "global" or value.buffer.dtype != store.buffer.dtype:
        return None
    return value
