"""Memory planning through chains of views: a storage lives while any view of it is read.

An oracle replays a plan: each value's storage (views share their root's),
and checks that a storage given to a new result holds no value still to be
read — directly or through a view of a view — that the result's kernel does
not read it, and that storages keep one dtype and are large enough for every
holder. Random graphs of kernels and views go through it.
"""
from hypothesis import given, settings
from hypothesis import strategies as st

from mlc.ir.graph import Binding, Graph, Var
from mlc.ops.registry import TensorType
from mlc.passes.graph import plan_memory


def check_plan(graph: Graph) -> None:
    planned = plan_memory(graph)
    bindings = planned.bindings
    root = {}
    for b in bindings:
        if b.op == "view":
            root[id(b.outputs[0])] = root.get(id(b.args[0]), id(b.args[0]))
    last_read = {}
    for n, b in enumerate(bindings):
        for a in b.args:
            key = root.get(id(a), id(a))
            last_read[key] = n
    for a in planned.outputs:
        last_read[root.get(id(a), id(a))] = len(bindings)
    holders: dict[int, list] = {}   # storage -> values placed there so far
    where: dict[int, int] = {}
    for n, b in enumerate(bindings):
        if b.op != "call_tir":
            continue
        read = {where.get(root.get(id(a), id(a))) for a in b.args} - {None}
        for v, s in zip(b.outputs, b.attr("storage")):
            if s is None:
                continue
            storage = planned.storages[s]
            assert storage.dtype == v.type.dtype, (n, s, storage, v.type)
            assert storage.size >= v.type.size, (n, s, storage, v.type)
            assert s not in read, f"binding {n} writes storage {s}, which it reads"
            for old in holders.get(s, []):
                assert last_read.get(id(old), -1) < n, \
                    f"binding {n} takes storage {s} while {old.name} is still read at {last_read[id(old)]}"
            holders.setdefault(s, []).append(v)
            where[id(v)] = s


def t(size, dtype="float32"):
    return TensorType((size,), dtype)


def test_a_view_of_a_view_keeps_the_storage_alive():
    x = Var("x", t(8))
    a, v1, v2, b, c, d = (Var(n, t(8)) for n in ("a", "v1", "v2", "b", "c", "d"))
    g = Graph((x,), (Binding((a,), "call_tir", (x,)), Binding((v1,), "view", (a,)),
                     Binding((v2,), "view", (v1,)), Binding((b,), "call_tir", (x,)),
                     Binding((c,), "call_tir", (b,)), Binding((d,), "call_tir", (v2, c))), (d,))
    check_plan(g)
    planned = plan_memory(g)
    slots = [bd.attr("storage")[0] for bd in planned.bindings if bd.op == "call_tir"]
    a_slot, b_slot, c_slot = slots[:3]
    assert a_slot not in (b_slot, c_slot)


@st.composite
def graphs(draw):
    x = Var("x", t(8))
    values = [x]
    bindings = []
    for n in range(draw(st.integers(2, 12))):
        src = values[draw(st.integers(0, len(values) - 1))]
        if draw(st.integers(0, 2)) == 0 and src is not x:
            out = Var(f"v{n}", src.type)
            bindings.append(Binding((out,), "view", (src,)))
        else:
            extra = values[draw(st.integers(0, len(values) - 1))]
            args = (src, extra) if draw(st.booleans()) else (src,)
            out = Var(f"k{n}", t(draw(st.sampled_from([4, 8, 16])), draw(st.sampled_from(["float32", "int32"]))))
            bindings.append(Binding((out,), "call_tir", args))
        values.append(out)
    kernels = [b.outputs[0] for b in bindings if b.op == "call_tir"]
    if not kernels:
        out = Var("last", t(8))
        bindings.append(Binding((out,), "call_tir", (values[-1],)))
        kernels = [out]
    return Graph((x,), tuple(bindings), (kernels[-1],))


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_random_graphs_of_kernels_and_views_never_share_a_live_storage(g):
    check_plan(g)
