"""Keeping the threads of a parallel launch on different CPUs (Linux).

A team of two threads on one CPU takes turns instead of working side by side,
and worse: the launching thread finishes its share and then spins at the
team's end (libgomp's GOMP_SPINCOUNT rounds) for a worker that can only run
once it stops. Linux places a thread it wakes, by default, near the thread
that woke it; a kernel that packs work onto few CPUs (as some virtual machines
do) puts it on the very same CPU, and so do busy neighbours, since the
scheduler then finds no idle CPU to prefer. Once there, the pair stays: the
launch runs late, the worker falls asleep before the next launch, the next
launch wakes it onto the same CPU again, calls run many times slower, and the
launch review of :mod:`.parallel` stands the loop down (what it cost, and what
the placement below saves: benchmarks/results/decisions.md, "LLVM backend").

So a launch keeps its threads apart, in the spirit of OpenMP's
``OMP_PROC_BIND`` but without pinning the user's thread:

* the launching thread notes its CPU before ``GOMP_parallel`` (the closure's
  ``cpu``; :func:`emit_launcher_cpu`);
* each worker of the team leaves that CPU out of its own affinity mask
  (:func:`define_place_worker`): the kernel moves it at once if it was there,
  and can no longer wake it there. The worker keeps the CPU its mask leaves
  out as a thread-specific value (under :data:`~.symbols.PLACEMENT_KEY`), so
  the common case (the launcher on the same CPU as last time) costs a
  ``pthread_getspecific`` and a compare; when the launcher has moved, the
  worker takes back the CPU it left out before and leaves out the new one;
* if the launching thread was itself moved during the launch (woken at the
  team's end onto a worker's CPU), it goes back to the CPU it started on,
  without changing its affinity (:func:`define_place_launcher`: a mask of that
  CPU alone, then its own mask again).

A worker's mask never gains a CPU it did not have (only the CPU it left out
comes back), and a mask that would be empty (the process may run on one CPU
only) is refused by the kernel and left as it was.
"""
from __future__ import annotations

from llvmlite import ir

from .intrinsics import declare
from .symbols import AFFINITY_SYMBOLS, PLACEMENT_KEY_SYMBOL, register_symbols
from .types import I32, I64, PTR

__all__ = ["available", "emit_launcher_cpu", "place_worker", "place_launcher", "define_place_worker",
           "define_place_launcher", "support_functions", "MASK_WORDS"]

_WORKER_FN = "__mlc_parallel_place_worker"
_LAUNCHER_FN = "__mlc_parallel_place_launcher"
#: The affinity masks read and written: 1024 CPUs, as glibc's ``cpu_set_t``. A CPU number
#: past it is never placed.
MASK_WORDS = 16
_MASK = ir.ArrayType(I64, MASK_WORDS)
_VOID = ir.VoidType()
_PLACE_TYPE = ir.FunctionType(_VOID, [I32])


def available() -> bool:
    """Whether this process's C library has the CPU placement functions (Linux's glibc)."""
    return AFFINITY_SYMBOLS <= register_symbols()


def emit_launcher_cpu(builder: ir.IRBuilder) -> ir.Value:
    """The i32 CPU the calling thread runs on now (``sched_getcpu``; -1 if unknown)."""
    return builder.call(_getcpu(builder.module), [])


def place_worker(module: ir.Module) -> ir.Function:
    """The declaration of :func:`define_place_worker`'s function in ``module``."""
    return declare(module, _WORKER_FN, _PLACE_TYPE)


def place_launcher(module: ir.Module) -> ir.Function:
    """The declaration of :func:`define_place_launcher`'s function in ``module``."""
    return declare(module, _LAUNCHER_FN, _PLACE_TYPE)


def support_functions() -> dict:
    """The support functions (:mod:`.support`) of placement, and what defines each; none
    where it is not :func:`available`."""
    return {_WORKER_FN: define_place_worker, _LAUNCHER_FN: define_place_launcher} if available() else {}


def define_place_worker(module: ir.Module) -> None:
    """Define ``void @__mlc_parallel_place_worker(i32 cpu)`` in ``module`` (the support
    module, :mod:`.support`): a worker of a team leaves ``cpu``, its
    launcher's CPU, out of its affinity mask (and takes back the one it left out before).

    Before, the worker's mask is ``{0, 1}`` and it runs on CPU 1 beside the launcher;
    after ``place_worker(1)`` its mask is ``{0}`` (the kernel moved it there) and its
    thread-specific value is 2 (CPU 1, plus one); after a later ``place_worker(0)`` (the
    launcher moved) the mask is ``{1}`` and the value 1.
    """
    fn = _function(module, _WORKER_FN)
    cpu, = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    check, read, give_back, leave_out, moved, end = (fn.append_basic_block(x) for x in (
        "check", "read", "give_back", "leave_out", "moved", "end"))
    mask = b.alloca(_MASK, name="mask")
    b.cbranch(_known(b, cpu), check, end)
    b.position_at_end(check)
    key = b.load(_placement_key(module), typ=I32)
    kept = b.call(declare(module, "pthread_getspecific", ir.FunctionType(PTR, [I32])), [key])
    before = b.sub(b.trunc(b.ptrtoint(kept, I64), I32), ir.Constant(I32, 1))  # -1: none
    b.cbranch(b.icmp_signed("==", before, cpu), end, read)  # the usual case: nothing to do
    b.position_at_end(read)
    b.cbranch(_affinity_call(b, "sched_getaffinity", mask), give_back, end)
    b.position_at_end(give_back)
    with b.if_then(_known(b, before)):
        _set_bit(b, mask, before, True)
    b.branch(leave_out)
    b.position_at_end(leave_out)
    _set_bit(b, mask, cpu, False)
    b.cbranch(_affinity_call(b, "sched_setaffinity", mask), moved, end)  # EINVAL: cpu was its only one
    b.position_at_end(moved)
    keep = b.inttoptr(b.zext(b.add(cpu, ir.Constant(I32, 1)), I64), PTR)
    b.call(declare(module, "pthread_setspecific", ir.FunctionType(I32, [I32, PTR])), [key, keep])
    b.branch(end)
    b.position_at_end(end)
    b.ret_void()


def define_place_launcher(module: ir.Module) -> None:
    """Define ``void @__mlc_parallel_place_launcher(i32 cpu)`` in ``module`` (the support
    module): the launching thread, back from
    ``GOMP_parallel``, returns to ``cpu`` (where it started the launch) if the kernel moved
    it; its affinity mask is the same after as before."""
    fn = _function(module, _LAUNCHER_FN)
    cpu, = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    read, go_back, restore, end = (fn.append_basic_block(x) for x in ("read", "go_back", "restore", "end"))
    own, only = b.alloca(_MASK, name="own"), b.alloca(_MASK, name="only")
    moved = b.icmp_signed("!=", b.call(_getcpu(module), []), cpu)
    b.cbranch(b.and_(_known(b, cpu), moved), read, end)
    b.position_at_end(read)
    b.cbranch(_affinity_call(b, "sched_getaffinity", own), go_back, end)
    b.position_at_end(go_back)
    for n in range(MASK_WORDS):
        b.store(ir.Constant(I64, 0), _word(b, only, ir.Constant(I32, n)))
    _set_bit(b, only, cpu, True)
    b.cbranch(_affinity_call(b, "sched_setaffinity", only), restore, end)
    b.position_at_end(restore)
    _affinity_call(b, "sched_setaffinity", own)
    b.branch(end)
    b.position_at_end(end)
    b.ret_void()


def _function(module: ir.Module, name: str) -> ir.Function:
    fn = ir.Function(module, _PLACE_TYPE, name=name)
    fn.attributes.add("nounwind")
    return fn


def _known(b: ir.IRBuilder, cpu: ir.Value) -> ir.Value:
    """``0 <= cpu < 64 * MASK_WORDS`` (an unsigned compare: -1, unknown, is not)."""
    return b.icmp_unsigned("<", cpu, ir.Constant(I32, 64 * MASK_WORDS))


def _word(b: ir.IRBuilder, mask: ir.Value, n: ir.Value) -> ir.Value:
    return b.gep(mask, [ir.Constant(I32, 0), n], inbounds=True)  # (a typed alloca: an i64 pointer)


def _set_bit(b: ir.IRBuilder, mask: ir.Value, cpu: ir.Value, value: bool) -> None:
    word = _word(b, mask, b.lshr(cpu, ir.Constant(I32, 6)))
    bit = b.shl(ir.Constant(I64, 1), b.zext(b.and_(cpu, ir.Constant(I32, 63)), I64))
    old = b.load(word, typ=I64)
    b.store(b.or_(old, bit) if value else b.and_(old, b.xor(bit, ir.Constant(I64, -1))), word)


def _getcpu(module: ir.Module) -> ir.Function:
    return declare(module, "sched_getcpu", ir.FunctionType(I32, []))


def _affinity_call(b: ir.IRBuilder, name: str, mask: ir.Value) -> ir.Value:
    """Whether glibc's ``int name(pid_t tid, size_t size, cpu_set_t *mask)`` for the calling
    thread (tid 0) and ``mask`` succeeded (returned 0)."""
    fn = declare(b.module, name, ir.FunctionType(I32, [I32, I64, PTR]))
    result = b.call(fn, [ir.Constant(I32, 0), ir.Constant(I64, 8 * MASK_WORDS), mask])
    return b.icmp_signed("==", result, ir.Constant(I32, 0))


def _placement_key(module: ir.Module) -> ir.GlobalVariable:
    key = module.globals.get(PLACEMENT_KEY_SYMBOL)
    if key is None:
        key = ir.GlobalVariable(module, I32, PLACEMENT_KEY_SYMBOL)  # (a pthread_key_t: unsigned int)
    return key
