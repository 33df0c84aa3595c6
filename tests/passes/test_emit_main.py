"""emit_main: the planned graph becomes a PrimFunc that allocates the storages and calls the kernels."""
import numpy as np
import pytest

from mlc.errors import IRError
from mlc.ir.calls import CallPrimFunc, DeclBuffer, graph_main_layout, is_graph_main
from mlc.ir.functor import pre_order_nodes
from mlc.ir.graph import Binding, Constant, Graph, Var
from mlc.ir.tir import Allocate
from mlc.ops.registry import TensorType
from mlc.passes.graph import emit_main, run_graph_passes
from mlc.passes.graph.emit_main import main_name, main_outputs

T = TensorType((4,), "float32")


def statements(func, kind):
    return [n for n in pre_order_nodes(func.body) if isinstance(n, kind)]


def test_a_chain_allocates_its_storages_and_calls_in_order():
    x, a, c, d = (Var(n, T) for n in "xacd")
    b = Var("b", TensorType((), "float32"))
    g = run_graph_passes(Graph((x,), (Binding((a,), "exp", (x,)), Binding((b,), "sum", (a,)),
                                      Binding((c,), "add", (a, b)), Binding((d,), "multiply", (c, a))), (d,)))
    main = g.module[main_name(g)]
    assert is_graph_main(main) and graph_main_layout(main) == (1, 0, 1)
    assert len(statements(main, Allocate)) == len(g.storages) >= 1
    calls = [s.name for s in statements(main, CallPrimFunc)]
    assert calls == [b.attr("func") for b in g.bindings if b.op == "call_tir"]
    assert all(isinstance(s.data.name, str) and s.data.name.startswith("storage")
               for s in statements(main, DeclBuffer))


def test_outputs_returned_twice_and_returned_constants_and_inputs():
    x, a = Var("x", T), Var("a", T)
    c = Constant("c", np.arange(4, dtype="float32"), T)
    g = run_graph_passes(Graph((x,), (Binding((a,), "exp", (x,)),), (a, x, a, c)))
    values, order = main_outputs(g)
    assert order == (0, 1, 0, 2)  # a once, however often it is returned
    main = g.module[main_name(g)]
    assert graph_main_layout(main) == (1, 1, 3)  # x; the constant c; a, a copy of x, a copy of c
    copies = [s for s in statements(main, CallPrimFunc) if s.name.startswith("copy")]
    assert [s.args[0].name for s in copies] == ["x", "c0"]
    assert len({s.name for s in copies}) == 1  # one copy kernel per array type


def test_a_returned_view_is_refused():
    x, v = Var("x", T), Var("v", T)
    g = Graph((x,), (Binding((v,), "view", (x,), (("shape", (4,)),)),), (v,))
    with pytest.raises(IRError, match=r"binding 0 \(v = view\(x\)\): the graph returns a view"):
        emit_main(g)


def test_main_is_named_like_the_graph_unless_a_kernel_has_the_name():
    x, a = Var("x", T), Var("a", T)
    g = run_graph_passes(Graph((x,), (Binding((a,), "exp", (x,)),), (a,), name="exp_graph"))
    assert main_name(g) == "exp_graph"
    kernel = next(n for n, f in g.module.items() if not is_graph_main(f))
    h = run_graph_passes(Graph((x,), (Binding((a,), "exp", (x,)),), (a,), name=kernel))
    assert main_name(h) != kernel and is_graph_main(h.module[main_name(h)])
