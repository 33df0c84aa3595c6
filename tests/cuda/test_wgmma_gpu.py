"""The wgmma GEMM on a Hopper GPU (sm_90, built for sm_90a): random float16 inputs at several
shapes and blocks against NumPy's float32 product, and the default schedule with its wgmma
rule on. Skipped without a GPU of compute capability 9.0.

Run ``python3 -m pytest -q -p no:cacheprovider tests/cuda/test_wgmma_gpu.py -rA -s``. The
first test is a probe that runs the kernel on index-coded inputs and prints which element of
A and of B each element of C came from, so that a failure tells a wrong A descriptor
(rows of B mixed, columns right), a wrong B descriptor or swizzle (columns of the B probe
wrong), a wrong accumulator fragment layout in the epilogue (both probes permuted the same
way) and a shared base not 1024-byte aligned (both operands' 16-byte chunks XOR-permuted)
apart."""
import numpy as np
import pytest

import mlc
from mlc.errors import ScheduleError
from mlc.ir.expr import IntImm
from mlc.ir.extern import CallExtern
from mlc.ir.functor import Mutator
from mlc.schedules import Schedule
from mlc.schedules.gpu import default as gpu_default
from mlc.schedules.gpu.wgmma import WgmmaTile, schedule_wgmma_matmul

from .conftest import DEVICE_MISSING, needs_gpu
from .programs import half_matmul as _matmul

SM90A = "cuda -arch=sm_90a"


def _hopper() -> str | None:
    if DEVICE_MISSING is not None:
        return DEVICE_MISSING
    import cupy as cp
    cc = cp.cuda.Device().compute_capability
    return None if cc == "90" else f"the GPU is sm_{cc}; wgmma needs sm_90 (an H100 or H200)"


HOPPER_MISSING = _hopper()
needs_hopper = pytest.mark.skipif(HOPPER_MISSING is not None, reason=str(HOPPER_MISSING))


def _build(m, n, k, tile):
    sch = Schedule(_matmul(m, n, k))
    schedule_wgmma_matmul(sch, "C", tile=tile)
    return mlc.build(sch.mod, SM90A)


def _gpu(lib, a, b):
    import cupy as cp
    c = cp.full((a.shape[0], b.shape[1]), cp.nan, "float32")
    lib["main"](cp.asarray(a), cp.asarray(b), c)
    cp.cuda.Stream.null.synchronize()
    return c.get()


def _mapping(got, rows: bool):
    """Per element of C, the index coded in it, and where it is not a whole index: -1."""
    ok = np.isfinite(got) & (got == np.round(got)) & (got >= 0)
    return np.where(ok, got, -1).astype(np.int64)


def _report(name, got_r, got_c, want_r, want_c) -> tuple[bool, str]:
    """(all right, lines) comparing, per element (i, j) of C, the (row, col) of the operand it
    came from against the expected one."""
    wrong = (got_r != want_r) | (got_c != want_c)
    lines = [f"{name}: {int(wrong.sum())} of {wrong.size} elements of C from the wrong element "
             f"({int((got_r < 0).sum())} not an index: NaN, garbage or a sum of several)"]
    if not wrong.any():
        return True, "\n".join(lines)
    rows_ok = (got_r == want_r)[wrong].mean()
    cols_ok = (got_c == want_c)[wrong].mean()
    lines.append(f"  among them: source row right {rows_ok:.0%}, source column right {cols_ok:.0%}")
    idx = np.argwhere(wrong)[:10]
    for i, j in idx:
        lines.append(f"  C[{i}, {j}] came from ({got_r[i, j]}, {got_c[i, j]}), expected ({want_r[i, j]}, "
                     f"{want_c[i, j]})")
    valid = wrong & (got_r >= 0) & (got_c >= 0)
    if valid.any():
        dr = (got_r - want_r)[valid]
        dc = (got_c - want_c)[valid]
        xor = ((got_c // 8) ^ (want_c // 8))[valid]
        pairs, counts = np.unique(np.stack([dr, dc]), axis=1, return_counts=True)
        top = np.argsort(-counts)[:6]
        lines.append("  most common (d row, d col): " + ", ".join(f"({pairs[0, t]}, {pairs[1, t]}) x{counts[t]}"
                                                               for t in top))
        vals, counts = np.unique(xor, return_counts=True)
        lines.append("  16-byte chunk XOR (source col // 8 ^ expected col // 8): "
                     + ", ".join(f"{v} x{c}" for v, c in zip(vals[:8], counts[:8])))
        lines.append(f"  wrong rows of C mod 64: {sorted(set((np.argwhere(valid)[:, 0] % 64).tolist()))[:16]}; "
                     f"wrong cols mod 8: {sorted(set((np.argwhere(valid)[:, 1] % 8).tolist()))}")
    return False, "\n".join(lines)


def probe(tile: WgmmaTile, build=None, run=None) -> tuple[bool, str]:
    """Run the kernel of ``tile`` (``build(m, n, k, tile)``, then ``run(lib, a, b)``: on the GPU
    by default) on one block with index-coded inputs (module docstring); (all right, the
    report)."""
    build, run = build or _build, run or _gpu
    m, n = tile.block_m, tile.block_n
    out, ok = [], True
    rows_c, cols_c = np.indices((m, n))
    # A = I (k = m): C = B, coded by its row, then by its column
    lib = build(m, n, m, tile)
    a = np.eye(m, dtype="float16")
    got_r = _mapping(run(lib, a, np.repeat(np.arange(m, dtype="float16")[:, None], n, 1)), True)
    got_c = _mapping(run(lib, a, np.repeat(np.arange(n, dtype="float16")[None, :], m, 0)), False)
    good, text = _report("B probe (A = I, C[i, j] must be B[i, j])", got_r, got_c, rows_c, cols_c)
    ok &= good
    out.append(text)
    # B = I (k = n): C = A
    lib = build(m, n, n, tile)
    b = np.eye(n, dtype="float16")
    got_r = _mapping(run(lib, np.repeat(np.arange(m, dtype="float16")[:, None], n, 1), b), True)
    got_c = _mapping(run(lib, np.repeat(np.arange(n, dtype="float16")[None, :], m, 0), b), False)
    good, text = _report("A probe (B = I, C[i, j] must be A[i, j])", got_r, got_c, rows_c, cols_c)
    ok &= good
    out.append(text)
    if not ok and build is _build:  # on the GPU: which other B descriptor encodings would read B right
        out.append(_b_alternatives(tile, run))
    verdict = []
    text = "\n".join(out)
    if not ok:
        verdict.append("hints: B probe rows wrong but columns right -> A's descriptor or placement; "
                       "B probe columns wrong -> B's descriptor, swizzle or the imm-trans-b flag; both probes "
                       "permuted alike with valid indices -> the accumulator fragment layout (epilogue); "
                       "chunk XORs of 1..7 in both -> swizzle phase (shared base not 1024-byte aligned)")
    return ok, text + ("\n" + "\n".join(verdict) if verdict else "")


class _Args(Mutator):
    """The MMA calls with arguments replaced: ``{position: value}`` (0-based, as the call takes
    them: D, A, B, a_lbo, a_sbo, a_mode, b_lbo, b_sbo, b_mode, a_mn, b_mn)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def visit_CallExtern(self, node):
        if not node.name.startswith("mlc_wgmma_m64"):
            return node
        args = list(node.args)
        for at, value in self.values.items():
            args[at] = IntImm(value(args) if callable(value) else value, args[at].dtype)
        return CallExtern(node.name, tuple(args), node.dtype)


def _b_alternatives(tile, run) -> str:
    """The B probe with other encodings of B's descriptor (its LBO and SBO swapped; B read as
    K-major), to name the one the GPU reads right."""
    m, n = tile.block_m, tile.block_n
    lines = ["B descriptor alternatives (B probe, A = I):"]
    for what, values in [("LBO and SBO swapped", {6: lambda a: a[7].value, 7: lambda a: a[6].value}),
                         ("SBO = LBO's value, LBO 16", {6: 16, 7: lambda a: a[6].value})]:
        sch = Schedule(_matmul(m, n, m))
        schedule_wgmma_matmul(sch, "C", tile=tile)
        func = sch.mod["main"]
        mod = mlc.IRModule({"main": func.with_body(_Args(values).visit(func.body))})
        try:
            lib = mlc.build(mod, SM90A)
            a = np.eye(m, dtype="float16")
            got_r = _mapping(run(lib, a, np.repeat(np.arange(m, dtype="float16")[:, None], n, 1)), True)
            got_c = _mapping(run(lib, a, np.repeat(np.arange(n, dtype="float16")[None, :], m, 0)), False)
            rows_c, cols_c = np.indices((m, n))
            wrong = int(((got_r != rows_c) | (got_c != cols_c)).sum())
            lines.append(f"  {what}: {wrong} of {m * n} wrong")
        except Exception as err:  # noqa: BLE001 - a diagnostic: report and go on
            lines.append(f"  {what}: {type(err).__name__}: {str(err)[:200]}")
    return "\n".join(lines)


@needs_gpu
@needs_hopper
@pytest.mark.parametrize("tile", [WgmmaTile(128, 128, 3, 2, 1), WgmmaTile(64, 64, 2, 1, 0),
                                  WgmmaTile(128, 256, 3, 2, 1), WgmmaTile(128, 256, 6, 2, 1, 32),
                                  WgmmaTile(128, 256, 8, 2, 2, 32, True, 132)], ids=str)
def test_probe_each_element_comes_from_the_right_place(tile):
    ok, text = probe(tile)
    print(f"\n--- wgmma probe {tile}\n{text}", flush=True)
    assert ok, text


CASES = [((128, 128, 64), WgmmaTile(64, 64, 2, 1, 0)),
         ((256, 256, 512), WgmmaTile(128, 128, 3, 2, 1)),
         ((384, 256, 192), WgmmaTile(128, 128, 4, 2, 1)),
         ((256, 512, 1024), WgmmaTile(128, 256, 3, 2, 1)),
         ((512, 256, 320), WgmmaTile(256, 128, 3, 2, 1)),
         ((128, 256, 128), WgmmaTile(128, 128, 2, 2, 0)),
         ((192, 384, 256), WgmmaTile(64, 128, 4, 1, 1)),
         ((256, 512, 512), WgmmaTile(128, 256, 6, 2, 1, 32)),
         ((256, 768, 640), WgmmaTile(128, 256, 4, 2, 1, 64)),
         ((256, 256, 576), WgmmaTile(128, 256, 8, 2, 1, 32)),
         ((256, 256, 224), WgmmaTile(128, 128, 6, 2, 1, 32)),
         ((512, 512, 736), WgmmaTile(128, 256, 8, 2, 2, 32)),  # two MMA batches in flight
         # persistent: 10 tiles on 4 blocks (two of them a tile fewer), 8 on 8, 16 on 3, 128 on 128
         ((640, 512, 640), WgmmaTile(128, 256, 6, 2, 1, 32, True, 4)),
         ((512, 1024, 1024), WgmmaTile(128, 256, 4, 2, 1, 64, True, 132)),
         ((1024, 512, 512), WgmmaTile(256, 128, 6, 2, 1, 32, True, 3)),
         ((2048, 2048, 512), WgmmaTile(128, 256, 8, 2, 2, 32, True, 132))]


@needs_gpu
@needs_hopper
@pytest.mark.parametrize("shape, tile", CASES, ids=str)
def test_random_float16_matches_numpy(shape, tile):
    m, n, k = shape
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal((m, k)).astype("float16")
    b = rng.standard_normal((k, n)).astype("float16")
    got = _gpu(_build(m, n, k, tile), a, b)
    want = a.astype("float32") @ b.astype("float32")
    if not np.allclose(got, want, rtol=1e-4, atol=1e-3):
        bad = ~np.isclose(got, want, rtol=1e-4, atol=1e-3)
        i, j = np.argwhere(bad)[0]
        _, text = probe(tile)
        pytest.fail(f"{shape} {tile}: {int(bad.sum())} of {bad.size} wrong, first C[{i}, {j}] = {got[i, j]} "
                    f"(want {want[i, j]}); probe:\n{text}")


@needs_gpu
@needs_hopper
def test_the_default_with_its_wgmma_rule_on(monkeypatch):
    """WGMMA_DEFAULT = True: a shape a wgmma block divides runs the wgmma kernel; one no block
    divides (and a shape with an epilogue) keeps the tensor-core rule; both give NumPy's result."""
    monkeypatch.setattr(gpu_default, "WGMMA_DEFAULT", True)
    rng = np.random.default_rng(1)
    for (m, n, k), target, wgmma in [((1024, 1024, 1024), SM90A, True), ((200, 136, 96), SM90A, False),
                                     ((512, 768, 256), "cuda", True)]:  # "cuda": the GPU's sm_90
        a = rng.standard_normal((m, k)).astype("float16")
        b = rng.standard_normal((k, n)).astype("float16")
        lib = mlc.build(_matmul(m, n, k), target)
        assert ("wgmma.mma_async" in lib.get_source("cuda")) == wgmma, (m, n, k, target)
        np.testing.assert_allclose(_gpu(lib, a, b), a.astype("float32") @ b.astype("float32"), rtol=1e-4, atol=1e-3,
                                   err_msg=str((m, n, k)))


def test_a_shape_no_block_divides_is_refused():
    with pytest.raises(ScheduleError, match="multiples of its block"):
        schedule_wgmma_matmul(Schedule(_matmul(200, 128, 64)), "C", tile=WgmmaTile(128, 128, 3, 2, 1))
