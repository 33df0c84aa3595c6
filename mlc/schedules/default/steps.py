"""Building blocks of the default rules: try a step, vectorize the innermost loop,
parallelize the outer loops.

Every step edits a :class:`~mlc.schedules.Schedule` through its primitives,
so what a rule did is in ``sch.trace``. :func:`attempt` makes a step
optional: when a primitive refuses (``ScheduleError``) the schedule is put
back exactly as it was before the step, trace included.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ...config import config
from ...errors import ScheduleError
from ...ir import dtype as dt
from ...ir.expr import IntImm, Var
from ...ir.functor import pre_order_nodes
from ...target import DEFAULT_CACHES
from ..intrinsics.x86 import has_vnni
from .patterns import constant_extent, view

__all__ = ["CpuInfo", "attempt", "restore", "choose", "decide", "Knobs", "parallel_loops", "vectorize_innermost",
           "parallelize_outer",
           "vector_split", "ROUTINE_VECTORS", "REGISTERS_FREE", "register_rows", "row_tile_options",
           "parallel_depth", "MIN_PARALLEL_WORK", "JOBS_PER_CORE", "SYMBOLIC_EXTENT_ESTIMATE",
           "estimated_extent"]

#: A loop nest runs on threads only when it has at least this many block instances
#: (below that, waking the thread pool costs more than the work).
MIN_PARALLEL_WORK = 1 << 14
#: Outer loops are fused until the parallel loop has this many iterations per core,
#: so that uneven iterations still balance across cores.
JOBS_PER_CORE = 4

#: The size the rules assume for a symbolic extent (``n = te.var("n")``, a batch size
#: known only at call time) when they weigh work: enough that a symbolic batch axis of a
#: large kernel runs on threads, and the tiles are chosen for a batch of this size.
SYMBOLIC_EXTENT_ESTIMATE = 256


def estimated_extent(extent) -> int:
    """A loop's extent as an int: its value, or SYMBOLIC_EXTENT_ESTIMATE when symbolic."""
    return extent.value if isinstance(extent, IntImm) else SYMBOLIC_EXTENT_ESTIMATE


#: Bytes of a cache line (the L1 set a row's line falls into: :meth:`CpuInfo.l1_set_lines`).
CACHE_LINE = 64

#: ``knobs(sch, name, options, default) -> one of options``: the decision a design space
#: takes where a rule leaves one open (:func:`choose`)
Knobs = Callable[[object, str, list, int], int]


@dataclass(frozen=True)
class CpuInfo:
    """What the CPU rules need to know about the machine: vector width, threads, vector
    registers (0: what the width implies, 32 for 512-bit vectors, else 16) and the L1
    data, L2 and L3 cache sizes in bytes (0: the defaults of the vector width), and the L1
    data cache's associativity (0: unknown; the rules then assume no two rows conflict)."""
    vector_bits: int = 256
    cores: int = 1
    vector_registers: int = 0
    caches: tuple[int, int, int] = (0, 0, 0)
    vnni: bool = False  # AVX-512 VNNI (int8 dot products, :mod:`.int8`)
    l1_ways: int = 0
    #: how the rules take the decisions they leave open (:func:`choose`): None, the
    #: default of each (the default rules); a design space sets a sampling function
    knobs: Knobs | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if not self.vector_registers:
            object.__setattr__(self, "vector_registers", 32 if self.vector_bits == 512 else 16)
        if not all(self.caches):
            default = DEFAULT_CACHES.get(self.vector_bits, DEFAULT_CACHES[128])
            object.__setattr__(self, "caches", tuple(c or d for c, d in zip(self.caches, default)))

    @property
    def l2_bytes(self) -> int:
        """The L2 cache's size in bytes."""
        return self.caches[1]

    def l1_set_lines(self, rows: int, strides) -> int:
        """The most lines of one set of the L1 data cache that ``rows`` consecutive rows of
        each matrix of row ``strides`` (bytes) take, every matrix starting at the same offset
        in a page (the worst case, and NumPy's for large arrays); 0 where the cache's
        associativity is unknown (:attr:`l1_ways`: no conflicts are assumed then).

        >>> zen3 = CpuInfo(256, 1, caches=(32 << 10, 0, 0), l1_ways=8)
        >>> zen3.l1_set_lines(4, [4096] * 3), zen3.l1_set_lines(2, [4096] * 3), zen3.l1_set_lines(4, [2048] * 3)
        (12, 6, 6)
        >>> zen3.l1_set_lines(4, [400] * 3), zen3.l1_set_lines(6, [4000]), CpuInfo().l1_set_lines(4, [4096])
        (3, 1, 0)
        """
        if self.l1_ways <= 0:
            return 0
        sets = max(1, self.caches[0] // (self.l1_ways * CACHE_LINE))
        counts = Counter(r * stride // CACHE_LINE % sets for stride in strides for r in range(rows))
        return max(counts.values(), default=0)

    def lanes(self, dtype: str) -> int:
        """Elements of ``dtype`` in one vector register."""
        return max(1, self.vector_bits // max(8, dt.bits(dtype)))

    @staticmethod
    def from_target(target) -> CpuInfo:
        """The vector width, registers and caches of ``target``'s CPU and features (not the
        host's, unless the target is the host) and the configured number of threads."""
        ways = target.get("l1_ways") if "l1_ways" in target.kind_info.properties else 0
        return CpuInfo(target.vector_bits, config().num_threads, target.vector_registers, target.caches,
                       has_vnni(target), ways)


def choose(sch, cpu: CpuInfo, name: str, options, default: int) -> int:
    """The value of the decision ``name`` that a rule leaves open (a tile size, packing on
    or off, a parallel depth): ``default`` for the default rules; with ``cpu.knobs`` set
    (a design space, :mod:`mlc.tune.space`), one of ``options`` (ints; ``default`` among
    them) drawn by that function, so the default rules are one point of the space."""
    return decide(sch, cpu.knobs, name, options, default)


def decide(sch, knobs: Knobs | None, name: str, options, default: int) -> int:
    """:func:`choose` with the ``knobs`` given (the GPU rules take theirs as an argument):
    ``default`` where ``knobs`` is None or ``options`` holds nothing else, else what
    ``knobs(sch, name, options, default)`` takes (``default`` first among the options).

    >>> decide(None, None, "threads", [32, 64], 64)
    64
    """
    if knobs is None:
        return default
    options = list(dict.fromkeys([default, *options]))
    return default if len(options) == 1 else int(knobs(sch, name, options, default))


def restore(sch, saved) -> None:
    """Put ``sch`` back to ``saved`` (a :meth:`~mlc.schedules.Schedule.copy` of it)."""
    sch.__dict__.clear()
    sch.__dict__.update(saved.__dict__)


def attempt(sch, step, *args):
    """``step(sch, *args)``, or nothing at all if a primitive refuses or the step returns None.

    Returns what the step returned (None when it did not apply).
    """
    saved = sch.copy()
    try:
        result = step(sch, *args)
    except ScheduleError:
        result = None
    if result is None:
        restore(sch, saved)
    return result


def vector_split(extent: int, lanes: int, vectors: int = 2) -> int | None:
    """The inner extent to vectorize a loop of ``extent`` with: ``vectors`` vectors (two by
    default; :data:`ROUTINE_VECTORS` for some math routines' long chains), fewer (halving)
    where that many do not divide the extent and fewer do, then one; None when shorter
    than a vector."""
    if extent < lanes:
        return None
    widths = [lanes * (vectors >> n) for n in range(vectors.bit_length()) if vectors >> n]
    for width in widths:
        if extent % width == 0:
            return width
    return next(w for w in widths if extent >= w)


#: (op, dtype) -> vectors per step of an elementwise loop that computes that math routine,
#: as lower_math writes it out (others: two). Each is a chain of about 20 dependent float32
#: operations a lane ending in a division (expm1's near 0): four vectors side by side keep
#: the FMA pipes busy where two leave them waiting on the chain. exp, log, atan and cos, and
#: the float64 routines (four vectors of four lanes), measured no faster with four (the
#: numbers: benchmarks/results/, "gelu-default-zen3").
ROUTINE_VECTORS = {("tanh", "float32"): 4, ("sigmoid", "float32"): 4, ("erf", "float32"): 4,
                   ("expm1", "float32"): 4}


def vectorize_innermost(sch, block, lanes: int, unroll_next: bool = False, vectors: int = 2):
    """Split the innermost loop of ``block`` by ``vectors`` times the vector width (or
    fewer: :func:`vector_split`) and vectorize the inner part.

    ``unroll_next`` also unrolls the loop right above the vector loop (register tiles).
    Returns the vector loop, or None when the loop is shorter than a vector or not spatial.
    """
    found = _innermost_spatial(sch, block)
    if found is None:
        return None
    loops, v, extent = found
    if extent is None:  # symbolic: ``vectors`` vectors per step, the ragged tail guarded
        vec = sch.split(loops[-1], [None, vectors * lanes])[1]
    else:
        width = vector_split(extent, lanes, vectors)
        if width is None:
            return None
        vec = loops[-1] if width == extent else sch.split(loops[-1], [None, width])[1]
    sch.vectorize(vec)
    if unroll_next and len(v.loops) >= 2:
        above = sch.get_loops(block)[-2]
        attempt(sch, lambda s: s.unroll(above) or True)
    return vec


def _innermost_spatial(sch, block):
    """(the loop handles, the block's view, the innermost loop's constant extent or None)
    when the innermost loop of ``block`` is serial and binds only spatial iterators;
    else None."""
    loops = sch.get_loops(block)
    if not loops:
        return None
    v = view(sch, block)
    inner = v.loops[-1]
    if inner.kind != "serial" or not _binds_spatial_only(v, inner.loop_var):
        return None
    return loops, v, constant_extent(inner)


def _binds_spatial_only(v, var: Var) -> bool:
    """``var`` appears only in bindings of spatial iterators of the block."""
    for iv, value in zip(v.block.iter_vars, v.realize.iter_values):
        if iv.iter_type != "spatial" and any(n is var for n in pre_order_nodes(value)):
            return False
    return True


def parallelize_outer(sch, block, cpu: CpuInfo, work: int | None = None):
    """Fuse the outer serial spatial loops of ``block`` until there is enough to share
    among the cores, and run the fused loop in parallel.

    ``work`` is the number of block instances (default: the product of all loop
    extents, a symbolic one counted as SYMBOLIC_EXTENT_ESTIMATE); a small nest stays
    serial. Returns the parallel loop or None.
    """
    if cpu.cores < 2:
        return None
    loops = sch.get_loops(block)
    v = view(sch, block)
    extents = [estimated_extent(f.extent) for f in v.loops]
    if work is None:
        work = 1
        for e in extents:
            work *= e
    if work < MIN_PARALLEL_WORK:
        return None
    chosen, product = [], 1
    for rv, loop in zip(loops, v.loops):
        if loop.kind != "serial" or not _binds_spatial_only(v, loop.loop_var):
            break
        if chosen and loop is not _body_loop(v.loops[len(chosen) - 1]):
            break
        chosen.append(rv)
        product *= estimated_extent(loop.extent)
        if product >= JOBS_PER_CORE * cpu.cores:
            break
    if product < 2:
        return None
    fused = chosen[0] if len(chosen) == 1 else sch.fuse(*chosen)
    sch.parallel(fused)
    return fused


def _body_loop(loop):
    return loop.body


# ------------------------------------------------------ tile helpers (matmul, conv)

def finish_tile(sch, block, n_outer: int) -> None:
    """Vectorize the innermost loop of a tile block and unroll the row loop above it
    (when that loop is part of the tile, i.e. not one of the ``n_outer`` outer loops)."""
    loops = sch.get_loops(block)
    if len(loops) <= n_outer:
        return
    attempt(sch, lambda s: s.vectorize(loops[-1]) or True)
    if len(loops) - 2 >= n_outer:
        attempt(sch, lambda s: s.unroll(loops[-2]) or True)


def fuse_epilogue(sch, copy, anchor, n_outer: int) -> set[str]:
    """Fold elementwise consumers of the output into the write back (or run them right after it)."""
    names = set()
    for consumer in sch.get_consumers(copy):
        name = view(sch, consumer).name
        if attempt(sch, lambda s: s.reverse_compute_inline(consumer) or True):
            names.add(name)
        elif attempt(sch, lambda s: s.reverse_compute_at(consumer, anchor) or True):
            finish_tile(sch, consumer, n_outer)
            names.add(name)
    return names


#: Vector registers a register tile leaves free besides its accumulators and the vectors of
#: its other operand (a broadcast, one for the next step's load).
REGISTERS_FREE = 2


def register_rows(vectors: int, cpu: CpuInfo) -> int:
    """Rows of ``vectors`` accumulators each that the register file holds beside ``vectors``
    operand vectors and REGISTERS_FREE more (at least 1)."""
    return max(1, (cpu.vector_registers - vectors - REGISTERS_FREE) // vectors)


def row_tile_options(vectors: int, extent: int, cpu: CpuInfo) -> list[int]:
    """The register-tile row counts a design space may take for ``extent`` rows of
    ``vectors`` accumulators each: 2 up to :func:`register_rows`, padding ``extent`` by at
    most an eighth (a matmul's rows, a convolution's output columns)."""
    most = min(register_rows(vectors, cpu), extent)
    return [r for r in range(2, most + 1) if 8 * (-(-extent // r) * r - extent) <= extent]


def parallel_depth(extents, cpu: CpuInfo, work: int) -> int:
    """How many of the outer loops (of ``extents``) :func:`parallel_tiles` fuses and runs on
    threads: enough for JOBS_PER_CORE jobs per core; 0 when the nest stays serial."""
    if cpu.cores < 2 or work < MIN_PARALLEL_WORK:
        return 0
    product = 1
    for depth, extent in enumerate(extents, 1):
        product *= extent
        if product >= JOBS_PER_CORE * cpu.cores:
            return depth
    return len(extents) if product >= 2 else 0


def parallel_tiles(sch, outer, extents, cpu: CpuInfo, work: int) -> None:
    """Fuse outer loops until each core has JOBS_PER_CORE jobs and run them on threads
    (a design space samples how many: :func:`choose` ``"parallel_depth"``)."""
    depth = parallel_depth(extents[:len(outer)], cpu, work)
    if cpu.cores > 1:
        depth = choose(sch, cpu, "parallel_depth", range(len(outer) + 1), depth)
    parallel_loops(sch, outer[:depth])


def parallel_loops(sch, loops) -> None:
    """Fuse ``loops`` (outer to inner, nested one in another) and run them on threads;
    nothing when there are none or a primitive refuses."""
    chosen = list(loops)
    if chosen:
        attempt(sch, lambda s: s.parallel(chosen[0] if len(chosen) == 1 else s.fuse(*chosen)) or True)
