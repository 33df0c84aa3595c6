"""ONNX's node conformance cases, generated from the installed ``onnx`` wheel, run on mlc.

The wheel ships the code that writes each node test (``onnx.backend.test.case.node``:
a one-node model, its inputs and the expected outputs); :func:`node_cases` runs
that code in memory (no files, no network), and :func:`run_case` builds one case
through :class:`~mlc.frontend.onnx_backend.MLCBackend` and compares as ONNX's own
runner does (same count, dtype and shape of every output, values within the
case's ``rtol``/``atol``, NaN equal to NaN).

A case of one's own runs the same way (``next(c for c in oc.node_cases() if c.name ==
"test_relu")`` is the wheel's, after some seconds generating them all):

>>> import numpy as np
>>> from onnx import TensorProto, helper
>>> from mlc.frontend import onnx_conformance as oc
>>> x, y = (helper.make_tensor_value_info(n, TensorProto.FLOAT, [3]) for n in "xy")
>>> model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y]))
>>> data = np.array([-1.0, 0.0, 2.0], "float32")
>>> oc.run_case(oc.NodeCase("relu", model, (([data], [np.maximum(data, 0)]),), 1e-7, 0.0)).passed
True

``tools/onnx_conformance.py`` prints the table by op; ``tests/frontend/test_onnx_conformance.py``
runs the cases against a list of expected failures.
"""
from __future__ import annotations

import functools
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .common import UnsupportedAttributeError, UnsupportedOpError
from .onnx import _onnx
from .onnx_backend import MLCBackend

__all__ = ["NodeCase", "CaseResult", "node_cases", "run_case", "op_of"]


@dataclass(frozen=True)
class NodeCase:
    """One node test: its name, the model and ``(inputs, expected outputs)`` pairs."""
    name: str
    model: object
    data_sets: tuple
    rtol: float
    atol: float

    @property
    def op(self) -> str:
        return op_of(self.model)


@dataclass(frozen=True)
class CaseResult:
    name: str
    op: str
    passed: bool
    stage: str      # "ok", "import" (unsupported op/attribute), "build", "run", "mismatch"
    message: str
    seconds: float


def op_of(model) -> str:
    """The op a node test exercises (its first node's type; an expanded function's name)."""
    nodes = model.graph.node
    return nodes[0].op_type if len(nodes) == 1 else (nodes[0].op_type if nodes else "?")


@functools.cache
def node_cases() -> tuple[NodeCase, ...]:
    """Every node test case the installed onnx wheel defines (sorted by name)."""
    _onnx()
    from onnx.backend.test.case import node
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        cases = node.collect_testcases(None)
    out = []
    for c in cases:
        if c.model is None:
            continue
        out.append(NodeCase(c.name, c.model, tuple(c.data_sets or ()), float(c.rtol), float(c.atol)))
    return tuple(sorted(out, key=lambda c: c.name))


def _compare(expected, got, rtol: float, atol: float) -> str | None:
    if len(got) != len(expected):
        return f"{len(got)} outputs, expected {len(expected)}"
    onnx = _onnx()
    for i, (e, g) in enumerate(zip(expected, got)):
        if isinstance(e, onnx.TensorProto):
            e = onnx.numpy_helper.to_array(e)
        if isinstance(e, (list, dict)) or e is None:
            return f"output {i}: sequences/optionals are not supported"
        e, g = np.asarray(e), np.asarray(g)
        if e.dtype != g.dtype:
            return f"output {i}: dtype {g.dtype}, expected {e.dtype}"
        if e.shape != g.shape:
            return f"output {i}: shape {g.shape}, expected {e.shape}"
        if e.dtype.kind in "OSU":
            if not np.array_equal(e, g):
                return f"output {i}: values differ"
            continue
        try:
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
        except AssertionError as err:
            return f"output {i}: " + str(err).strip().splitlines()[-1][:200]
    return None


def run_case(case: NodeCase, target: str = "llvm") -> CaseResult:
    """Build ``case``'s model for ``target`` and compare every data set; never raises."""
    start = time.perf_counter()

    def result(stage: str, message: str = "") -> CaseResult:
        return CaseResult(case.name, case.op, stage == "ok", stage, message, time.perf_counter() - start)

    for inputs, _ in case.data_sets:
        if any(isinstance(a, (list, dict)) or a is None for a in inputs):
            return result("import", "sequence/optional inputs are not supported")
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            rep = MLCBackend.prepare(case.model, target=target)
    except (UnsupportedOpError, UnsupportedAttributeError) as err:
        return result("import", f"{type(err).__name__}: {err}"[:300])
    except Exception as err:  # noqa: BLE001 - a conformance table records every failure
        return result("build", f"{type(err).__name__}: {err}"[:300])
    for inputs, expected in case.data_sets:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                got = rep.run(list(inputs))
        except Exception as err:  # noqa: BLE001
            return result("run", f"{type(err).__name__}: {err}"[:300])
        problem = _compare(expected, got, case.rtol, case.atol)
        if problem:
            return result("mismatch", problem)
    return result("ok")
