"""The whole op suite (``tests/ops``) on the GPU emulator: every op's differential tests against
NumPy, run on ``target="cuda-emulator"`` (the kernels a GPU build makes, launched thread by
thread on the CPU) as they run on "llvm" and "reference" in the main session.

It is one test running pytest on ``tests/ops --mlc-target=cuda-emulator`` in child processes,
so the default targets of this session are left as they are: two children, each with half of
the suite's files (balanced by :data:`EMULATOR_SECONDS`), run side by side while this
session waits. Each child draws half this session's share of each test's examples where that
is below all of them, down to one example a test (tests/depth.py): every op still runs on the
emulator, on fewer drawn cases than on llvm. A failure prints the failing child's summary. The
files whose tests name their targets themselves (:data:`SAME_ON_EVERY_TARGET`) would only
repeat the main session's run, and so would the tests of the other files that never read the
default targets (error messages, promotion rules, lowerings read as IR, tests that name "llvm"
and "reference"): the children deselect those (:func:`same_on_every_target`).
"""
import ast
import os
import pathlib
import subprocess
import sys

import pytest

from tests.depth import share

TESTS = pathlib.Path(__file__).resolve().parents[1]
CHILDREN = 2


#: What each file's tests took in a child (seconds, the summed --durations of one run of both
#: children on a 2-core host at a load of 1.7): the split balances these. A file's size says
#: little about it (test_complex.py and test_nn.py are about the same size; one takes three
#: times the other). A file not listed counts :data:`SECONDS_PER_BYTE` of its size.
EMULATOR_SECONDS = {"test_complex.py": 26, "test_factorize.py": 22, "test_elementwise.py": 13, "test_spectral.py": 10,
                    "test_nn.py": 8, "test_shape.py": 5, "test_reduce.py": 4, "test_sorting.py": 3,
                    "test_linalg.py": 2, "test_element.py": 1, "test_random_ops.py": 1, "test_scan.py": 1,
                    "test_accumulation.py": 0, "test_float16_logaddexp.py": 0, "test_window_matmul.py": 0,
                    "test_registry.py": 0}
SECONDS_PER_BYTE = 2e-3

#: Files whose tests never read the session's default targets (each names its targets, or runs
#: only on the CPU): under ``--mlc-target=cuda-emulator`` they would run exactly as they run in
#: the main session, so the children leave them out.
SAME_ON_EVERY_TARGET = {"test_rows.py", "test_sum_accuracy.py", "test_radix_sort.py", "test_integer_power.py",
                        "test_vector_sort.py"}

#: What a file that follows the session's default targets calls (mlc.testing's or the harness's,
#: and the plugin's fixture).
_READS_DEFAULT_TARGETS = ("TARGETS", "default_targets", "check_op", "run_op", "check_against_numpy", "mlc_target")


def _definitions(tree: ast.Module, source: str) -> dict[str, str]:
    """The source of each function, class and assigned name at the top of a module."""
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):  # decorators included
            out[node.name] = "\n".join(ast.get_source_segment(source, n) for n in [*node.decorator_list, node])
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        out[name.id] = ast.get_source_segment(source, node)
    return out


def _named_targets(call: ast.AST) -> bool:
    """Is ``call`` a call given its targets by name (``targets=("llvm",)``: a tuple or list of
    strings)? It runs on those, whatever the session's default targets are."""
    if not isinstance(call, ast.Call):
        return False
    given = [k.value for k in call.keywords if k.arg == "targets"]
    return bool(given) and isinstance(given[0], (ast.Tuple, ast.List)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in given[0].elts)


class _OnNamedTargets(ast.NodeTransformer):
    """Calls given their targets by name (:func:`_named_targets`) with their function left out:
    what it reads of the defaults does not apply (their arguments still count)."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if _named_targets(node):
            node.func = ast.Name("_on_named_targets", ast.Load())
        return node


def same_on_every_target(source: str, harness: str) -> list[str]:
    """The tests of a module (its ``source``) that never read the session's default targets:
    neither a test's own source (its decorators included) nor anything of its module or of the
    harness (``harness``'s source) that it names, and what those name in turn, mentions one of
    :data:`_READS_DEFAULT_TARGETS` (a call given its targets by name, ``targets=("llvm",)``,
    reads none through the function it calls). Such a test runs under
    ``--mlc-target=cuda-emulator`` exactly as it runs in the main session."""
    tree = ast.parse(source)
    known = {**_definitions(ast.parse(harness), harness), **_definitions(tree, source)}

    def reads(text: str, seen: set) -> bool:
        parsed = ast.parse(text)
        if any(_named_targets(node) for node in ast.walk(parsed)):
            parsed = _OnNamedTargets().visit(parsed)
            text = ast.unparse(parsed)
        if any(word in text for word in _READS_DEFAULT_TARGETS):
            return True
        for node in ast.walk(parsed):
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
            if name in known and name not in seen:
                seen.add(name)
                if reads(known[name], seen):
                    return True
        return False

    tests = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    same = [name for name in tests if not reads(known[name], {name})]
    # pytest deselects by prefix: leave in any test whose name starts another test's name
    return [name for name in same if not any(o != name and o.startswith(name) for o in tests)]


def _deselected(files) -> list[str]:
    harness = (TESTS / "ops" / "_harness.py").read_text()
    return [f"--deselect=tests/ops/{pathlib.Path(f).name}::{name}" for f in files
            for name in same_on_every_target(pathlib.Path(f).read_text(), harness)]


def _emulated_files():
    return [f for f in sorted((TESTS / "ops").glob("test_*.py")) if f.name not in SAME_ON_EVERY_TARGET]


def _cost(f) -> float:
    return EMULATOR_SECONDS.get(f.name, f.stat().st_size * SECONDS_PER_BYTE)


def _groups(files, count):
    """``files`` split into ``count`` groups of about equal total cost (largest first): their
    time in the emulator, :data:`EMULATOR_SECONDS`."""
    groups = [[] for _ in range(count)]
    costs = [0] * count
    for f in sorted(files, key=_cost, reverse=True):
        lightest = costs.index(min(costs))
        groups[lightest].append(str(f))
        costs[lightest] += _cost(f)
    return [g for g in groups if g]


def test_the_files_left_out_never_read_the_default_targets():
    for name in SAME_ON_EVERY_TARGET:
        text = (TESTS / "ops" / name).read_text()
        assert not any(word in text for word in _READS_DEFAULT_TARGETS), name


def test_the_op_files_split_into_balanced_groups():
    files = _emulated_files()
    groups = _groups(files, CHILDREN)
    assert sorted(f for g in groups for f in g) == [str(f) for f in files]  # each file once
    assert len(groups) == CHILDREN


_HARNESS = """
TARGETS = ("llvm", "reference")
ON_EVERY = TARGETS


def run_on_all(x):
    return check_op("abs", [x], abs(x))


def helper(x):
    return run_on_all(x)
"""

_TESTS = """
from ._harness import helper


def test_message():
    assert str(1) == "1"


def test_through_a_helper():
    helper(1)


def test_through_a_constant():
    for t in ON_EVERY:
        pass


@pytest.mark.parametrize("target", TARGETS)
def test_parametrized(target):
    pass


def test_own_targets():
    for t in ("llvm", "reference"):
        pass


def test_fixture(mlc_target):
    pass


def test_prefix():
    pass


def test_prefix_longer():
    pass


def test_named_targets():
    check_op("abs", [1], 1, targets=("llvm",))
    helper(1, targets=["llvm", "reference"])


def test_targets_a_constant_names():
    check_op("abs", [1], 1, targets=TARGETS)


def test_targets_named_beside_an_argument_that_reads():
    check_op("abs", [helper(1)], 1, targets=("llvm",))
"""


def test_the_tests_deselected_never_read_the_default_targets():
    # what names the targets through a helper, a constant, a decorator or the fixture stays
    # (a call given its targets by name reads none through the function it calls)
    assert same_on_every_target(_TESTS, _HARNESS) == ["test_message", "test_own_targets", "test_prefix_longer",
                                                      "test_named_targets"]


def test_every_op_matches_numpy_on_the_gpu_emulator(pytester: pytest.Pytester):
    pytester.chdir()
    part = share()
    part = part if part == 1.0 else part / 2  # (a run at full depth runs them all here too)
    floor = {} if part == 1.0 else {"MLC_FEWEST_EXAMPLES": "1"}  # (every op still runs, once at least)
    children = []
    for group in _groups(_emulated_files(), CHILDREN):
        children.append(subprocess.Popen(
            [sys.executable, "-m", "pytest", *group, *_deselected(group), "--mlc-target=cuda-emulator", "-q",
             "-p", "no:cacheprovider", "-x", "--rootdir", str(TESTS.parent)],
            cwd=str(pytester.path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, MLC_EXAMPLE_SHARE=str(part), **floor)))
    for child in children:
        try:
            out, _ = child.communicate(timeout=1200)
        except subprocess.TimeoutExpired:
            for c in children:
                c.kill()
            pytest.fail("the op suite on the emulator ran past 20 minutes")
        lines = out.strip().splitlines()
        summary = lines[-1] if lines else ""
        assert child.returncode == 0, "\n".join(lines[-40:])
        assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
