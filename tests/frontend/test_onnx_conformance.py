"""ONNX's own node conformance cases (generated in memory from the installed onnx wheel) on llvm.

Every case is either expected to pass or listed in ``onnx_node_expected_failures.txt``,
and the list is kept honest: a listed case that passes fails the test (take it off
the list), as does a case that fails without being listed. By default a
deterministic third of the cases runs (every third by name, in four shards: about
half a minute on a busy 2-core host); ``MLC_ONNX_CONFORMANCE=full`` runs them all.
A sample of every 15th case runs on cuda-emulator too, with the same expected outcome.
``python tools/onnx_conformance.py`` prints the table by op and rewrites the list
with ``--write-expected``.
"""
from __future__ import annotations

import os
import pathlib

import pytest

onnx = pytest.importorskip("onnx")

from mlc.frontend.onnx import SUPPORTED_OPS  # noqa: E402
from mlc.frontend.onnx_conformance import node_cases, run_case  # noqa: E402

from ._onnx_pool import fast_pool  # noqa: E402

EXPECTED = pathlib.Path(__file__).with_name("onnx_node_expected_failures.txt")
SHARDS = 4
FULL = os.environ.get("MLC_ONNX_CONFORMANCE") == "full"


def _cases():
    """:func:`node_cases`, collected with onnx's pooling loop vectorised (the same cases, to
    the bit: ``_onnx_pool``), as the first call in a process collects them."""
    with fast_pool():
        return node_cases()


def _expected_failures() -> set[str]:
    lines = EXPECTED.read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def _supported(case) -> bool:
    """Whether mlc lists the case's ops and the dtypes of its inputs and outputs as supported."""
    from mlc.ir import dtype as dt
    if any(n.op_type not in SUPPORTED_OPS or n.domain not in ("", "ai.onnx") for n in case.model.graph.node):
        return False
    for info in [*case.model.graph.input, *case.model.graph.output]:
        t = info.type.tensor_type
        if not info.type.HasField("tensor_type") or not t.elem_type:
            return False
        try:
            name = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name
        except Exception:  # noqa: BLE001 - an ONNX type without a NumPy name
            return False
        if name not in dt.SUPPORTED:
            return False
    return True


def test_expected_failures_name_real_cases():
    names = {c.name for c in _cases()}
    stale = sorted(_expected_failures() - names)
    assert not stale, f"{EXPECTED.name} names cases the onnx wheel does not have: {stale[:10]}"


def test_pass_rate_targets():
    """≥ 70% of every node case, ≥ 95% of those whose op and dtypes mlc supports (by the list)."""
    cases = _cases()
    failing = _expected_failures()
    passed = sum(c.name not in failing for c in cases)
    supported = [c for c in cases if _supported(c)]
    supported_passed = sum(c.name not in failing for c in supported)
    rate, supported_rate = passed / len(cases), supported_passed / max(len(supported), 1)
    print(f"\nONNX node cases on llvm: {passed}/{len(cases)} pass ({100 * rate:.1f}%); of those whose "
          f"ops and dtypes mlc supports: {supported_passed}/{len(supported)} ({100 * supported_rate:.1f}%)")
    assert rate >= 0.70
    assert supported_rate >= 0.95


@pytest.mark.parametrize("shard", range(SHARDS))
def test_node_cases(shard):
    failing = _expected_failures()
    cases = [c for i, c in enumerate(_cases()) if FULL or i % 3 == 0]
    mine = cases[shard::SHARDS]
    unexpected, fixed = [], []
    for case in mine:
        result = run_case(case, "llvm")
        if result.passed and case.name in failing:
            fixed.append(case.name)
        elif not result.passed and case.name not in failing:
            unexpected.append(f"{case.name} [{result.stage}] {result.message[:200]}")
    passed = sum(1 for c in mine if c.name not in failing)
    print(f"\nshard {shard}: {len(mine)} cases, {passed} expected to pass ({100 * passed / max(len(mine), 1):.1f}%)")
    assert not unexpected, "cases that fail but are not in the expected failures:\n" + "\n".join(unexpected)
    assert not fixed, (f"cases that now pass: take them off {EXPECTED.name}:\n" + "\n".join(fixed))


def test_a_sample_on_the_cuda_emulator():
    """Every 15th case on cuda-emulator (the GPU pipeline without a GPU): the same outcome as on llvm."""
    failing = _expected_failures()
    differ = []
    for i, case in enumerate(_cases()):
        if i % 15 != 7:
            continue
        result = run_case(case, "cuda-emulator")
        if result.passed == (case.name in failing):
            differ.append(f"{case.name}: {'passes' if result.passed else 'fails'} on cuda-emulator "
                          f"[{result.stage}] {result.message[:200]}")
    assert not differ, "\n".join(differ)
