"""Design spaces: rules that turn one PrimFunc into a schedule with sampled decisions.

A space is a function ``space(sch, func_name, cpu)`` editing an
:class:`mlc.Schedule` through its primitives; every random choice is a
sampling primitive (``sample_perfect_tile``, ``sample_categorical``,
``sample_compute_location``), so a candidate is the resulting trace, and its
*decisions* (one per sampling instruction, in order) say everything that
distinguishes it from its neighbours. :func:`replay` runs a space again with
given decisions (mutated ones included): a decision that no longer fits (the
loop it tiles changed) is drawn afresh.

The CPU space (:func:`cpu_space`) applies, in order:

1. auto-inline of elementwise/injective stages (the default rules' test of
   when inlining pays);
2. multi-level tiling of each reduction block: spatial loops in four levels
   (``S0 S1 | S2 S3``), reduction loops in two (``R0 R1``), ordered
   ``S0 S1 R0 S2 R1 S3`` or ``S0 S1 S2 R0 R1 S3`` (sampled), the result
   accumulated in a ``local`` buffer written back under a sampled tile level;
   elementwise consumers fused into the write-back;
3. for each remaining spatial block: a random compute location (stay at the
   root, or a sampled legal loop of its consumer);
4. parallel outer loops (a sampled number of them fused), a vectorized
   innermost spatial loop, and a sampled unroll depth of the register tile.

The rules space (:func:`rules_space`, :data:`RULES`, what ``mlc.tune`` searches
by default) is the default CPU schedule made a family: the default rules run
with every decision they leave open sampled (:func:`~mlc.schedules.default.steps.choose`):
the matmul's register tile (columns: one to four vectors; rows: as many as the
register file holds accumulators for), packing B into panels and A into row
panels on or off, packing each panel inside its own iteration, blocks of rows
(MC), groups of column panels (NC), blocks of the reduction (KC), the
reduction's unroll factor; the convolution's channel vector width, the columns
and output rows of its register tile; how many outer loops run on threads. Then a
stage feeding a reduction (a convolution's padding) is computed at a sampled
loop of its consumer, or left where it is. A point taking every default is the
default schedule itself (the same IR, so the same structural hash).

The default CPU schedule (:data:`DEFAULT`) is also a space of its own with no
decisions: tuning measures it first, so it never ends worse than the default.

For the ``cuda`` and ``cuda-emulator`` targets, :data:`RULES` names the default GPU
rules as a family (:func:`gpu_rules_space`: the wgmma, tensor-core and matmul kernels'
blocks, split-K, pipeline depths and intrinsics, threads and vectors, each defaulting to
the rules' pick; the point taking every default is the default GPU schedule),
:data:`TILED` the generic CUDA space (:func:`~mlc.schedules.gpu.space.gpu_space`: grid
blocks, threads, register tiles, shared staging, cross-thread reductions, and the
tensor-core and wgmma rules with their choices drawn uniformly), and :data:`DEFAULT` the
default GPU schedule.
"""
from __future__ import annotations

import math
from dataclasses import replace

from ..errors import ScheduleError
from ..ir.functor import pre_order_nodes
from ..ir.tir import Block
from ..schedules import Schedule
from ..schedules.default import apply_rules, default_schedule
from ..schedules.default.cpu import inline_injective, schedule_cpu
from ..schedules.gpu.default import schedule_gpu
from ..schedules.default.patterns import constant_extent, is_canonical, view, view_by_name
from ..schedules.default.steps import CpuInfo, attempt, vectorize_innermost
from ..target import Target
from ..schedules.gpu.space import GpuInfo, gpu_space

__all__ = ["SPACES", "GPU_SPACES", "DEFAULT", "TILED", "RULES", "cpu_space", "rules_space", "gpu_rules_space",
           "default_point",
           "replay", "decisions_of",
           "ForcedSchedule", "SAMPLING_KINDS", "space_name"]

#: the trace instructions that carry a decision
SAMPLING_KINDS = ("sample_perfect_tile", "sample_categorical", "sample_compute_location")
#: unroll the register tile's innermost loops while their extents multiply to at most this
MAX_UNROLL = 64

DEFAULT = "default"
TILED = "tiled"
RULES = "rules"


class ForcedSchedule(Schedule):
    """A Schedule whose sampling primitives take their decisions from a list, in order.

    A decision that does not fit (a tile that no longer multiplies to the
    loop's extent, an index out of range) is drawn from the generator instead.
    """

    def __init__(self, mod, decisions=(), seed=None):
        super().__init__(mod, seed=seed)
        self._forced = list(decisions)

    def copy(self):
        other = super().copy()
        other._forced = list(self._forced)
        return other

    def _next(self):
        return self._forced.pop(0) if self._forced else None

    def sample_perfect_tile(self, loop, n, max_innermost_factor=16, decision=None):
        forced = self._next() if decision is None else decision
        if forced is not None:
            try:
                return super().sample_perfect_tile(loop, n, max_innermost_factor, decision=list(forced))
            except (ScheduleError, TypeError):
                pass
        return super().sample_perfect_tile(loop, n, max_innermost_factor)

    def sample_categorical(self, candidates, probs, decision=None):
        forced = self._next() if decision is None else decision
        if isinstance(forced, int) and 0 <= forced < len(candidates):
            return super().sample_categorical(candidates, probs, decision=forced)
        return super().sample_categorical(candidates, probs)

    def sample_compute_location(self, block, decision=None):
        forced = self._next() if decision is None else decision
        if isinstance(forced, int):
            try:
                return super().sample_compute_location(block, decision=forced)
            except ScheduleError:
                pass
        return super().sample_compute_location(block)


def decisions_of(trace) -> list:
    """The decisions of a trace's sampling instructions, in order (JSON values)."""
    return [inst.inputs.get("decision") for inst in trace if inst.kind in SAMPLING_KINDS]


def _block_names(func) -> list[str]:
    return [n.name_hint for n in pre_order_nodes(func.body) if isinstance(n, Block) and n.name_hint != "root"]


def _is_param(func, buffer) -> bool:
    return any(p is buffer for p in func.params)


def _try(sch, step, *args):
    """``step(sch, *args)`` or, when a primitive refuses, nothing (the schedule restored)."""
    return attempt(sch, lambda s: step(s, *args) or True)


# ----------------------------------------------------------------- the rules

def _tile_reduction(sch: Schedule, func_name: str, name: str, cpu: CpuInfo) -> bool:
    """Multi-level tiling of the reduction block ``name`` (see the module docstring)."""
    v = view_by_name(sch.mod[func_name], name)
    block = sch.get_block(name, func_name)
    loops = sch.get_loops(block)
    kinds = [iv.iter_type for iv in v.block.iter_vars]
    if not is_canonical(v):
        return False
    extents = [constant_extent(f) for f in v.loops]
    if any(e is None or e < 1 for e in extents) or "spatial" not in kinds:
        return False
    lanes = cpu.lanes(v.block.writes[0].buffer.dtype)
    spatial = [n for n, k in enumerate(kinds) if k == "spatial"]
    levels: dict[int, list] = {}
    sizes: dict[int, list[int]] = {}
    for n, loop in enumerate(loops):
        if kinds[n] == "spatial":
            inner = 4 * lanes if n == spatial[-1] else 8
            factors = sch.sample_perfect_tile(loop, n=4, max_innermost_factor=inner)
        else:
            factors = sch.sample_perfect_tile(loop, n=2, max_innermost_factor=16)
        levels[n] = sch.split(loop, factors=factors)
        sizes[n] = [int(f) for f in factors]
    s = [[levels[n][lvl] for n in spatial] for lvl in range(4)]
    r = [[levels[n][lvl] for n in range(len(kinds)) if kinds[n] != "spatial"] for lvl in range(2)]
    # the loop structure: S0 S1 R0 S2 R1 S3 (a cache tile of the reduction around the
    # register tile), or S0 S1 S2 R0 R1 S3 (the whole reduction inside the outer tiles)
    inner_reduction = int(sch.sample_categorical([0, 1], [0.5, 0.5]))
    order = s[0] + s[1] + s[2] + r[0] + r[1] + s[3] if inner_reduction else \
        s[0] + s[1] + r[0] + s[2] + r[1] + s[3]
    sch.reorder(*order)
    # the accumulator lives in a local buffer written back under a tile level above the
    # reduction: 0 or 1, or 2 when the reduction is inside it
    levels_above = [0, 1, 2] if inner_reduction else [0, 1]
    level = sch.sample_categorical(levels_above, [1.0] * len(levels_above))
    anchor = s[int(level)][-1]
    write = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(write, anchor)
    for consumer in sch.get_consumers(write):
        if not _try(sch, lambda t: t.reverse_compute_inline(consumer)):
            _try(sch, lambda t: t.reverse_compute_at(consumer, anchor))
    if r[0]:
        _try(sch, lambda t: t.decompose_reduction(block, r[0][0]))
    # vectorize the innermost spatial loop (contiguous in the output by the iteration order)
    _try(sch, lambda t: t.vectorize(s[3][-1]))
    # unroll depth: how many loops above the vector loop (innermost first) are unrolled
    inner_loops = [(levels[n][3], sizes[n][3]) for n in spatial[:-1]][::-1] + \
        [(levels[n][1], sizes[n][1]) for n in range(len(kinds)) if kinds[n] != "spatial"][::-1]
    depth = int(sch.sample_categorical([0, 1, 2, 3], [0.2, 0.3, 0.3, 0.2]))
    product = 1
    for loop, extent in inner_loops[:depth]:
        product *= extent
        if product > MAX_UNROLL:
            break
        _try(sch, lambda t: t.unroll(loop))
    # the loops above the write-back nest one in another: those may be fused and parallel
    _parallel(sch, s[0] + (s[1] if int(level) >= 1 else []), cpu)
    return True


def _parallel(sch, outer, cpu: CpuInfo) -> None:
    """Fuse a sampled number (1..len(outer)) of the outer loops and run them on threads."""
    if cpu.cores < 2 or not outer:
        return
    depth = int(sch.sample_categorical(list(range(1, len(outer) + 1)), [1.0] * len(outer)))
    chosen = outer[:depth]
    _try(sch, lambda t: t.parallel(chosen[0] if len(chosen) == 1 else t.fuse(*chosen)))


def _schedule_spatial(sch: Schedule, func_name: str, name: str, cpu: CpuInfo) -> None:
    """A spatial block: random compute location, or vectorize + parallel at the root."""
    block = sch.get_block(name, func_name)
    func = sch.mod[func_name]
    v = view_by_name(func, name)
    writes_param = any(_is_param(func, w.buffer) for w in v.block.writes)
    if not writes_param and sch.get_consumers(block):
        at_root = int(sch.sample_categorical([1, 0], [0.5, 0.5]))
        if not at_root:
            def move(t):
                loop = t.sample_compute_location(block)
                t.compute_at(block, loop)
            if _try(sch, move):
                return
    loops = sch.get_loops(block)
    if not loops or constant_extent(v.loops[-1]) is None:
        return
    lanes = cpu.lanes(v.block.writes[0].buffer.dtype)
    inner = constant_extent(v.loops[-1])
    widths = [w for w in (lanes, 2 * lanes) if w <= inner]
    if widths:
        width = sch.sample_categorical(widths, [1.0] * len(widths))
        _try(sch, lambda t: t.vectorize(t.split(loops[-1], factors=[None, width])[1]))
    outer = sch.get_loops(block)[:-1]
    if outer and math.prod(constant_extent(f) or 1 for f in v.loops) >= 1 << 14:
        _parallel(sch, outer[:3], cpu)


def cpu_space(sch: Schedule, func_name: str, cpu: CpuInfo) -> None:
    """The CPU design space for function ``func_name`` of ``sch`` (in place)."""
    inline_injective(sch, func_name, cpu)
    func = sch.mod[func_name]
    for name in _block_names(func):
        if name not in _block_names(sch.mod[func_name]):
            continue
        v = view_by_name(sch.mod[func_name], name)
        if v.block.is_reduction:
            if not attempt(sch, _tile_reduction, func_name, name, cpu):
                _try(sch, lambda t: t.parallel(t.get_loops(t.get_block(name, func_name))[0]))
    for name in _block_names(sch.mod[func_name]):
        v = view_by_name(sch.mod[func_name], name)
        if not v.block.is_reduction and v.loops and all(f.kind == "serial" for f in v.loops) \
                and not name.endswith("_local") and not name.endswith("_init"):
            attempt(sch, lambda t: _schedule_spatial(t, func_name, name, cpu) or True)


def _sample_knob(sch: Schedule, name: str, options: list[int], default: int) -> int:
    """A rule's open decision, sampled: the default as likely as all the others together."""
    probs = [float(len(options) - 1) if o == default else 1.0 for o in options]
    return int(sch.sample_categorical(options, probs))


def _producer_locations(sch: Schedule, func_name: str, cpu: CpuInfo, stages: list[str]) -> None:
    """Each intermediate spatial stage of the workload (of ``stages``, not a copy the rules
    made) that a reduction reads (a convolution's padding) stays where the rules put it,
    or moves under a sampled one of the loops around its consumer's reduction (its
    innermost loop then vectorized); a location compute_at refuses leaves it where it is."""
    for name in _block_names(sch.mod[func_name]):
        if name not in stages:
            continue
        func = sch.mod[func_name]
        v = view_by_name(func, name)
        if v.block.is_reduction or any(_is_param(func, w.buffer) for w in v.block.writes):
            continue
        block = sch.get_block(name, func_name)
        reducers = [c for c in sch.get_consumers(block) if view(sch, c).block.is_reduction]
        if not reducers:
            continue
        outer = _loops_above_reduction(sch, reducers[0])
        if not outer:
            continue
        where = int(sch.sample_categorical(list(range(len(outer) + 1)), [float(len(outer))] + [1.0] * len(outer)))
        if not where:  # stays where the rules put it
            continue
        lanes = cpu.lanes(v.block.writes[0].buffer.dtype)

        def move(t, block=block, loop=outer[where - 1], lanes=lanes):
            t.compute_at(block, loop)
            attempt(t, vectorize_innermost, block, lanes)
            return True
        attempt(sch, move)


def _loops_above_reduction(sch: Schedule, block) -> list:
    """The loops around reduction ``block`` outside its first reduction loop (outermost first)."""
    v = view(sch, block)
    reduce_vars = set()
    for iv, value in zip(v.block.iter_vars, v.realize.iter_values):
        if iv.iter_type != "spatial":
            reduce_vars |= {id(n) for n in pre_order_nodes(value)}
    loops = sch.get_loops(block)
    outer = []
    for rv, loop in zip(loops, v.loops):
        if id(loop.loop_var) in reduce_vars:
            break
        outer.append(rv)
    return outer


def rules_space(sch: Schedule, func_name: str, cpu: CpuInfo) -> None:
    """The default CPU rules as a family (see the module docstring), in place."""
    stages = _block_names(sch.mod[func_name])
    schedule_cpu(sch, func_name, replace(cpu, knobs=_sample_knob))
    _producer_locations(sch, func_name, cpu, stages)


def gpu_rules_space(sch: Schedule, func_name: str, info: GpuInfo) -> None:
    """The default GPU rules as a family, in place: :func:`~mlc.schedules.gpu.default.schedule_gpu`
    for ``info``'s target with every decision it leaves open sampled (the wgmma block or none,
    the tensor-core block, split-K and intrinsics, the matmul's tile, warp-tiled kernel and
    pipeline depth, threads and vectors of the row, reduction and elementwise rules), the
    default as likely as all the others together. The point taking every default is the
    default GPU schedule (:func:`default_point`)."""
    schedule_gpu(sch, func_name, info.target, knobs=_sample_knob)


def _default_knob(sch: Schedule, name: str, options: list[int], default: int) -> int:
    return int(sch.sample_categorical(options, [1.0] * len(options), decision=options.index(default)))


def default_point(mod, target) -> list:
    """The decisions of :data:`RULES` that give the default schedule (every rule's open
    decision at its default, every stage left where the rules put it)."""
    target = Target.from_str(target)
    (func_name,) = list(mod)
    sch = ForcedSchedule(mod)
    if target.is_gpu:
        schedule_gpu(sch, func_name, target, knobs=_default_knob)
        return decisions_of(sch.trace)
    schedule_cpu(sch, func_name, replace(CpuInfo.from_target(target), knobs=_default_knob))
    decisions = decisions_of(sch.trace)
    func = sch.mod[func_name]
    stages = [n for n in _block_names(func) if not view_by_name(func, n).block.is_reduction]
    return decisions + [0] * len(stages)  # unused zeros are dropped by the replay


#: space name -> rule function ``f(sch, func_name, CpuInfo)`` (CPU targets)
SPACES = {TILED: cpu_space, RULES: rules_space}
#: space name -> rule function ``f(sch, func_name, GpuInfo)`` (the GPU targets: kinds with the "gpu" key)
GPU_SPACES = {TILED: gpu_space, RULES: gpu_rules_space}


def replay(mod, space: str, target, decisions=(), seed=None) -> Schedule:
    """A schedule of single-function ``mod`` by ``space`` (a name of :data:`SPACES`,
    :data:`DEFAULT`, or a function ``f(sch)``) with ``decisions`` (missing or unfitting
    ones drawn with ``seed``); ``sch.trace`` is the candidate."""
    target = Target.from_str(target)
    if callable(space):  # a user's space: f(sch) calling sampling primitives (the course's ScheduleFn)
        sch = ForcedSchedule(mod, decisions, seed=seed)
        space(sch)
        return sch
    gpu = target.is_gpu
    if space == DEFAULT:
        return apply_rules(mod, target, schedule_gpu) if gpu else default_schedule(mod, target)
    (func_name,) = list(mod)
    sch = ForcedSchedule(mod, decisions, seed=seed)
    if gpu:
        GPU_SPACES[space](sch, func_name, GpuInfo.from_target(target))
    else:
        SPACES[space](sch, func_name, CpuInfo.from_target(target))
    return sch


def space_name(space) -> str:
    """The name a record gives its space: a rule set's name, or a space function's."""
    return space if isinstance(space, str) else getattr(space, "__name__", "custom")
