"""``mlc.build(..., database=db)``: a tuning database's traces schedule the functions nobody did.

The fake database answers by structural hash, as a tuning database keyed by
workload would; the contract is :class:`mlc.driver.Database`'s.
"""
import numpy as np
import pytest

import mlc
from mlc.driver import Database, schedule_module
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import For
from mlc.schedules import Schedule, as_written
from mlc.schedules.default import SCHEDULED_ATTR
from tests.programs import mm_relu_func


class FakeDatabase:
    """Traces by the structural hash of the function they were recorded on."""

    def __init__(self):
        self.records = {}
        self.asked = []

    def commit(self, func, trace):
        self.records[mlc.structural_hash(mlc.IRModule({"main": func})["main"])] = trace

    def best_trace(self, func, target):
        self.asked.append((func.attr("global_symbol"), func.attr("tir.noalias"), target.kind))
        return self.records.get(mlc.structural_hash(func))


def recorded_trace(func, name="main"):
    """A trace recorded on ``{name: func}``: split Y's i by 4 and parallelise the outer loop."""
    sch = Schedule(mlc.IRModule({name: func}))
    block = sch.get_block("Y", func_name=name)
    i, _, _ = sch.get_loops(block)
    outer, _ = sch.split(i, factors=[None, 4])
    sch.parallel(outer)
    return sch.trace


def loop_kinds(func):
    return [n.kind for n in pre_order_nodes(func.body) if isinstance(n, For)]


def module():
    return mlc.IRModule({"tuned": mm_relu_func(16, 8, 12), "untuned": mm_relu_func(8, 8, 8)})


def test_the_database_trace_schedules_its_function_and_the_rules_the_rest():
    db = FakeDatabase()
    db.commit(mm_relu_func(16, 8, 12), recorded_trace(mm_relu_func(16, 8, 12)))
    assert isinstance(db, Database)
    scheduled = schedule_module(module(), "llvm", database=db)
    assert db.asked == [("main", True, "llvm")] * 2  # each function as a one-function workload
    assert scheduled["tuned"].attr(SCHEDULED_ATTR) == "trace"
    assert scheduled["untuned"].attr(SCHEDULED_ATTR) == "default"
    assert scheduled["tuned"].attr("global_symbol") == "tuned"  # its own name back
    assert loop_kinds(scheduled["tuned"])[0] == "parallel"
    assert len(loop_kinds(scheduled["tuned"])) == len(loop_kinds(mm_relu_func(16, 8, 12))) + 1  # i split


def test_a_build_with_a_database_runs_correctly():
    db = FakeDatabase()
    db.commit(mm_relu_func(16, 8, 12), recorded_trace(mm_relu_func(16, 8, 12), name="whatever"))
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((16, 12)).astype("float32"), rng.standard_normal((12, 8)).astype("float32")
    for target in ("llvm", "reference"):
        lib = mlc.build(module(), target, database=db)
        c = np.zeros((16, 8), "float32")
        lib["tuned"](a, b, c)
        np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)


def test_a_trace_naming_no_function_replays_under_the_modules_name():
    func = mm_relu_func(16, 8, 12)
    sch = Schedule(mlc.IRModule({"anything": func}))
    sch.parallel(sch.get_loops(sch.get_block("C"))[0])  # get_block(..., func_name=None)
    db = FakeDatabase()
    db.commit(func, sch.trace)
    scheduled = schedule_module(mlc.IRModule({"tuned": func}), "reference", database=db)
    assert scheduled["tuned"].attr(SCHEDULED_ATTR) == "trace" and "parallel" in loop_kinds(scheduled["tuned"])


def test_a_user_schedule_wins_over_the_database():
    db = FakeDatabase()
    db.commit(mm_relu_func(16, 8, 12), recorded_trace(mm_relu_func(16, 8, 12)))
    scheduled = schedule_module(module(), "llvm", schedule=as_written, database=db)
    assert db.asked == [] and scheduled["tuned"].attr(SCHEDULED_ATTR) == "user"


def test_functions_already_scheduled_are_not_asked_about():
    db = FakeDatabase()
    mod = schedule_module(module(), "llvm")  # scheduled by the default rules
    schedule_module(mod, "llvm", database=db)
    assert db.asked == []


def test_a_trace_that_does_not_fit_names_the_function():
    db = FakeDatabase()
    other = Schedule(mlc.IRModule({"main": mm_relu_func(16, 8, 12, name="Z")}))
    other.get_block("Z")
    db.commit(mm_relu_func(16, 8, 12), other.trace)  # a trace naming a block the function lacks
    with pytest.raises(mlc.ScheduleError, match="replaying a recorded trace on function 'tuned'"):
        schedule_module(module(), "llvm", database=db)


def test_a_database_must_answer_traces():
    class Wrong:
        def best_trace(self, func, target):
            return "split i by 4"

    with pytest.raises(mlc.MLCError, match="best_trace returned str for function 'tuned'"):
        mlc.build(module(), "reference", database=Wrong())
    with pytest.raises(mlc.MLCError, match="database must have a method best_trace"):
        mlc.build(module(), "reference", database=object())


def test_a_graph_module_takes_no_database():
    from tests.graph.helpers import emit_te_mlp
    with pytest.raises(mlc.MLCError, match="database= applies to IRModules and PrimFuncs"):
        mlc.build(emit_te_mlp(), "llvm", database=FakeDatabase())
