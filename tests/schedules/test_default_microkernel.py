"""The default matmul's micro-kernel as each pinned CPU would run it: the assembly of the
innermost loop of a large sgemm, compiled for the AVX2 and the AVX-512 target on any
host (:mod:`tests.targets`), and what the schedule knows about the CPU's register file
and caches.

The loop must keep every accumulator of the register tile in a vector register (one
FMA destination each, no stack access in the loop) and use the register file: with
AVX2, 12 of the 16 ymm registers (6 rows of 2 vectors), also for 2048 rows, whose
last tile of 6 is ragged; with AVX-512, 24 of the 32 zmm registers (6 rows of 4 vectors)
whatever the rows, one step of the reduction an iteration (24 FMAs). The AVX2 loop runs
WIDE_TILE_K_UNROLL steps an iteration, with no more than the loop's own instructions
beside the loads and FMAs of the steps.
"""
import re

import pytest

from mlc.backends.llvm import compile_sources
from mlc.target import DEFAULT_CACHES, Target, host_caches, host_l1_ways
from mlc.schedules import default_schedule
from mlc.schedules.default import CpuInfo
from mlc.schedules.default.matmul import PANEL_PREFETCH_BYTES, WIDE_TILE_K_UNROLL, _row_tile
from tests.targets import each_pinned_target, pinned_threads

from .test_default_cpu import matmul

#: (register name, accumulators, rows of the tile) of the micro-kernel per pinned ISA and size.
MICRO_KERNEL = {("avx2", 1536): ("ymm", 12, 6), ("avx2", 2048): ("ymm", 12, 6),
                ("avx512", 1536): ("zmm", 24, 6), ("avx512", 2048): ("zmm", 24, 6)}


def _holds_a_loop(body: list[str]) -> bool:
    """Whether ``body`` holds a whole loop: a label and a branch back to it."""
    labels = [m.group(1) for m in (re.match(r"^(\.LBB\d+_\d+):", b) for b in body) if m]
    return any(re.match(rf"\s+j\w+\s+{re.escape(label)}$", b) for label in labels for b in body)


def innermost_fma_loop(asm: str) -> list[str]:
    """The instructions of the innermost loop (a label, its back branch, no loop inside)
    holding the most FMAs (of two loops with as many, the shorter)."""
    lines = asm.splitlines()
    best, key = [], (0, 0)
    for start, line in enumerate(lines):
        label = re.match(r"^(\.LBB\d+_\d+):", line)
        if not label:
            continue
        for end in range(start + 1, len(lines)):
            if re.match(rf"\s+j\w+\s+{re.escape(label.group(1))}$", lines[end]):
                body = lines[start + 1:end]
                if _holds_a_loop(body):
                    break
                if (sum("vfmadd" in b for b in body), -len(body)) > key:
                    best, key = body, (sum("vfmadd" in b for b in body), -len(body))
                break
    return best


@each_pinned_target
@pytest.mark.parametrize("size", [1536, 2048])
def test_the_micro_kernel_keeps_its_accumulators_in_registers(isa, target, size):
    mod = matmul(size, size, size)
    with pinned_threads():
        scheduled = default_schedule(mod, target).mod
    loop = innermost_fma_loop(compile_sources(scheduled, target)["asm"])
    register, accumulators, rows = MICRO_KERNEL[isa, size]
    fmas = [line.split() for line in loop if "vfmadd" in line]
    destinations = {fma[-1] for fma in fmas}
    assert fmas and all(fma[-1].startswith(f"%{register}") for fma in fmas), "\n".join(loop)
    assert len(destinations) == accumulators, "\n".join(loop)
    assert len(fmas) % accumulators == 0  # every accumulator once per step of k (unrolled)
    assert not [line for line in loop if "(%rsp" in line], "a spill in the loop"
    text = scheduled["main"].script()
    assert re.search(rf"for i_\d in T.unroll\({rows}\):", text)


def test_register_file_and_caches_come_from_the_target_not_the_host():
    avx2, avx512 = Target("llvm", "haswell"), Target("llvm", "skylake-avx512")
    assert (avx2.vector_registers, avx512.vector_registers) == (16, 32)
    assert avx2.caches == DEFAULT_CACHES[256] and avx512.caches == DEFAULT_CACHES[512]
    with pinned_threads():
        info = CpuInfo.from_target(avx512)
    assert (info.vector_bits, info.vector_registers, info.caches, info.cores) == (512, 32, DEFAULT_CACHES[512], 2)
    host = Target.from_str("llvm")
    assert host.caches == (host_caches() or DEFAULT_CACHES.get(host.vector_bits, DEFAULT_CACHES[128]))
    assert CpuInfo(256, 2) == CpuInfo(256, 2, 16, DEFAULT_CACHES[256])  # the defaults of the width


def test_this_cpu_with_features_turned_off_keeps_this_machines_caches():
    """``-mcpu=<this CPU> -mattr=-avx512f`` (what ``benchmarks --isa avx2`` builds for) runs
    on this machine's cores, so it schedules for their caches; a feature turned on, or
    another CPU with the same features off, takes the defaults of its vector width."""
    from mlc.backends.llvm.cpus import host_cpu
    cpu, _ = host_cpu()
    host = Target.from_str("llvm").caches
    narrower = Target.from_str(f"llvm -mcpu={cpu} -mattr=-avx512f")
    assert narrower.caches == host
    added = Target.from_str(f"llvm -mcpu={cpu} -mattr=-avx512f,+avx2")
    assert added.caches == DEFAULT_CACHES[added.vector_bits]
    other = "haswell" if cpu != "haswell" else "skylake"
    assert Target.from_str(f"llvm -mcpu={other} -mattr=-avx512f").caches == \
        DEFAULT_CACHES[Target.from_str(f"llvm -mcpu={other} -mattr=-avx512f").vector_bits]


def test_host_caches_are_read_from_sysfs(tmp_path, monkeypatch):
    from mlc import target as target_module
    for index, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"),
                                                  (2, "Unified", "1024K"), (3, "Unified", "32768K")]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        (folder / "level").write_text(f"{level}\n")
        (folder / "type").write_text(f"{kind}\n")
        (folder / "size").write_text(f"{size}\n")
        (folder / "ways_of_associativity").write_text(f"{12 if kind == 'Data' else 8}\n")
    monkeypatch.setattr(target_module, "_CACHE_DIR", tmp_path)
    host_caches.cache_clear()
    host_l1_ways.cache_clear()
    try:
        assert host_caches() == (48 << 10, 1 << 20, 32 << 20)
        assert host_l1_ways() == 12  # the data cache's, not the instruction cache's
        monkeypatch.setattr(target_module, "_CACHE_DIR", tmp_path / "absent")
        host_caches.cache_clear()
        host_l1_ways.cache_clear()
        assert host_caches() is None and host_l1_ways() == 0
    finally:
        host_caches.cache_clear()
        host_l1_ways.cache_clear()


def test_the_l1_associativity_is_the_hosts_only_for_the_hosts_cores(monkeypatch):
    """The host's cores have the host's associativity; a named CPU other than this one its own
    where its L1 is known (haswell's 8 ways), else none (0: the rules assume no conflicts),
    whatever the host's, so that its code does not depend on where it is compiled."""
    from mlc.backends.llvm import target_kind
    host = Target.from_str("llvm")
    assert host.get("l1_ways") == host_l1_ways()
    monkeypatch.setattr(target_kind, "host_l1_ways", lambda: 12)
    monkeypatch.setattr(target_kind, "host_cpu", lambda: ("znver5", ""))
    assert Target.from_str("llvm -mcpu=haswell").get("l1_ways") == 8
    assert Target.from_str("llvm -mcpu=skylake-avx512").get("l1_ways") == 8
    assert Target.from_str("llvm -mcpu=icelake-server").get("l1_ways") == 0


@pytest.mark.parametrize("m, rows", [(1024, 8), (128, 8), (64, 8), (515, 5), (100, 10), (12, 12), (3, 3),
                                     (997, 9)])
def test_avx512_row_tiles_fill_the_registers_and_pad_the_rows_least(m, rows):
    """With 32 registers and 2 vectors of columns: 4 to 14 rows, the one that pads least."""
    assert _row_tile(32, 16, m, CpuInfo(512, 1)) == rows


@pytest.mark.parametrize("m, rows", [(1024, 6), (2048, 6), (4096, 6), (128, 6), (12, 6), (515, 6), (8, 4), (3, 4),
                                     (10, 5), (20, 5)])
def test_avx2_row_tiles_take_the_fewest_row_tiles_of_up_to_12_accumulators(m, rows):
    """With 16 registers and 2 vectors of columns: 4 to 6 rows (8 to 12 accumulators, 2 B
    vectors, the broadcast and a spare), the fewest row tiles, then the least padding; also
    for a large matmul that packs A into panels of the tile's rows (2048 rows: 342 tiles,
    the last one ragged, which ran 10-15% faster than 4 rows that pad nothing)."""
    assert _row_tile(16, 8, m, CpuInfo(256, 1)) == rows
    assert _row_tile(8, 8, 1024, CpuInfo(256, 1)) == 13  # one vector of columns: 13 rows


def test_rows_the_tile_does_not_divide_get_no_second_micro_kernel():
    """1024 rows in tiles of 6 are 170 tiles and 4 rows: the last tile overlaps the one
    before it (``partition_tiles``) instead of being a 4-row copy of the micro-kernel, so the
    AVX-512 code has the FMAs of one kernel (a step of 24, unrolled WIDE_TILE_K_UNROLL times)
    and no more."""
    target = Target("llvm", "skylake-avx512")
    with pinned_threads():
        scheduled = default_schedule(matmul(1024, 1024, 1024), target).mod
    asm = compile_sources(scheduled, target)["asm"]
    loop = innermost_fma_loop(asm)
    assert sum("vfmadd" in line for line in loop) == 24 * WIDE_TILE_K_UNROLL
    assert sum("vfmadd" in line for line in asm.splitlines()) == 24 * WIDE_TILE_K_UNROLL


@pytest.mark.parametrize("k, packed", [(1024, True), (1000, False)])
def test_the_avx2_micro_kernel_is_unrolled_and_reads_a_packed_only_where_its_rows_share_l1_sets(k, packed):
    """16 registers, a large sgemm (B packed, rows in blocks for the L2 cache): the loop holds
    WIDE_TILE_K_UNROLL steps of the 6 x 16 tile, each 12 FMAs, 2 loads of the B panel and 6
    broadcasts of A, a prefetch of the panel PANEL_PREFETCH_BYTES ahead, and besides them only
    the loop's own 3 instructions (two pointers stepped, one compare) and its branch. A is
    packed into panels of the tile's rows where those rows, as stored, fall into one set of
    haswell's 8-way L1 (4 KiB apart: k = 1024), else read as stored."""
    target = Target("llvm", "haswell")
    with pinned_threads():
        scheduled = default_schedule(matmul(1024, 1024, k), target).mod
    loop = innermost_fma_loop(compile_sources(scheduled, target)["asm"])
    ops = [line.split()[0] for line in loop if line.strip() and not line.startswith(".")]
    steps = WIDE_TILE_K_UNROLL
    assert (ops.count("vfmadd231ps"), ops.count("vbroadcastss"), ops.count("vmovups")) == (12 * steps, 6 * steps,
                                                                                            2 * steps), "\n".join(loop)
    ahead = []  # each prefetch's distance past the panel load that follows it
    for at, line in enumerate(loop):
        if "prefetcht0" in line:
            load = next(x for x in loop[at:] if x.split()[0] == "vmovups")
            (p_off, p_reg), (l_off, l_reg) = (re.search(r"(-?\d*)\((%\w+)", x).groups() for x in (line, load))
            ahead.append(int(p_off or 0) - int(l_off or 0) if p_reg == l_reg else None)
    assert ahead == [PANEL_PREFETCH_BYTES] * steps, "\n".join(loop)
    assert len(ops) - 21 * steps <= 3, "\n".join(loop)
    assert not [line for line in loop if "(%rsp" in line], "a spill in the loop"
    assert ("A_global" in scheduled["main"].script()) == packed


def test_a_blocked_reduction_on_one_thread_keeps_its_tile_in_registers():
    """A design space's blocks of the reduction (``matmul.k_block``) accumulate in a stack
    buffer of the whole column panel; on one thread (no outlined body with ``noalias``
    parameters) the packed panels are heap blocks taken from their parking globals, which
    alias analysis must tell apart from that stack buffer, or the loop stores every
    accumulator back at every step and reloads the panel after each store."""
    from dataclasses import replace

    from mlc.schedules import Schedule
    from mlc.schedules.default.cpu import schedule_cpu

    target = Target("llvm", "haswell")
    sch = Schedule(matmul(1024, 1024, 1024))
    knobs = {"matmul.k_block": 256, "parallel_depth": 0}
    schedule_cpu(sch, "main", replace(CpuInfo(256, 1), knobs=lambda s, name, options, default: knobs.get(name, default)))
    assert re.search(r"for k_0, i_1, k_1_0 in T.grid\(4, \d+, 64\):", sch.mod["main"].script())
    loop = innermost_fma_loop(compile_sources(sch.mod, target)["asm"])
    stores = [line for line in loop if re.match(r"\s+vmov\w+\s+%ymm\d+, ", line)]
    assert not stores and sum("vmovups" in line for line in loop) == 2 * WIDE_TILE_K_UNROLL, "\n".join(loop)
