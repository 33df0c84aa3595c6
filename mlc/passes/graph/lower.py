"""Lower each fused group to ONE PrimFunc and call it with ``call_tir``.

The group's ops are lowered with their registry ``lower`` functions on te
placeholders for the group's inputs; 0-d constants become immediates, larger
constants extra parameters. Intermediate elementwise/injective stages are
inlined (:mod:`.inline`), then ``te.create_prim_func`` makes the kernel:
parameters are the inputs, then constants, then the outputs (destination
passing). Structurally equal kernels are built once and shared.

>>> from mlc.ops.registry import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var
>>> from mlc.passes.graph.fuse import fuse_ops
>>> x = Var("x", TensorType((8,), "float32"))
>>> a, b = Var("a", TensorType((8,), "float32")), Var("b", TensorType((8,), "float32"))
>>> g = fuse_ops(Graph((x,), (Binding((a,), "exp", (x,)), Binding((b,), "negative", (a,))), (b,)))
>>> lowered = lower_to_tir(g)
>>> print(lowered.script())
@R.function
def main(x: R.Tensor((8,), "float32")):
    lv0 = R.call_tir(fused_exp_negative, (x,), out_sinfo=R.Tensor((8,), "float32"))
    return lv0
>>> from mlc.ir.functor import pre_order_nodes
>>> from mlc.ir.tir import Block
>>> func = lowered.module["fused_exp_negative"]
>>> [n.name_hint for n in pre_order_nodes(func.body) if isinstance(n, Block)]
['root', 'T_negative']
"""
from __future__ import annotations

from dataclasses import replace

from ...errors import CompileError, IRError, MLCError
from ...ir import te
from ...ir.names import unique_name
from ...ir.expr import IntImm, const
from ...ir.functor import Mutator
from ...ir.control import is_control, map_bodies
from ...ir.graph import Binding, Constant, Graph
from ...ir.structural import structural_equal, structural_hash
from ...ir.tir import IRModule, PrimFunc
from ...ops.hand_written import hand_written, with_op_params
from ...ops.registry import get_op
from .fuse import NOT_OPS, group_name
from .fuse_tir import is_call_tir_group, merge_call_tir_group
from .inline import inline_stages
from .inplace import INPLACE, call_inplace

__all__ = ["lower_to_tir", "lower_group"]


def _param_name(name: str, n: int, taken: set[str]) -> str:
    return unique_name(name if name.isidentifier() and not name.startswith("lv") else f"p{n}", taken)


def lower_group(body: Graph, name: str = "fused") -> tuple[PrimFunc, list[Constant]]:
    """The PrimFunc computing ``body`` and the constants it takes after the inputs."""
    if len(body.bindings) == 1 and body.bindings[0].op not in NOT_OPS and \
            get_op(body.bindings[0].op).prim_func is not None:
        return _hand_written(body, name)
    taken: set[str] = set()
    tensors: dict[int, te.Tensor] = {}
    params = []
    for n, v in enumerate(body.inputs):
        p = te.placeholder(v.shape, v.dtype, _param_name(v.name, n, taken))
        tensors[id(v)] = p
        params.append(p)
    const_params, const_atoms = [], []

    def tensor_of(atom):
        t = tensors.get(id(atom))
        if t is None:  # a Constant
            if atom.data.ndim == 0:
                value = atom.data.item()
                t = te.compute((), lambda: const(value, atom.dtype), name="c")
            else:
                t = te.placeholder(atom.shape, atom.dtype, _param_name("c", len(taken), taken))
                const_params.append(t)
                const_atoms.append(atom)
            tensors[id(atom)] = t
        return t

    for b in body.bindings:
        if b.op in NOT_OPS:
            raise IRError(f"lowering fused function {name}: binding {b.describe()} is a {b.op} among "
                          "registry ops; a fused function is either registry ops or call_tir bindings: "
                          "map every op of the function to TensorIR (then FuseTIR merges the PrimFuncs) "
                          "or none of them")
        args = [tensor_of(a) for a in b.args]
        try:
            result = get_op(b.op).lower(*args, **dict(b.attrs))
        except MLCError as err:
            raise _lowering_error(b, name, err) from err
        results = result if isinstance(result, (tuple, list)) else (result,)
        for v, t in zip(b.outputs, results):
            if tuple(t.shape) != v.shape or t.dtype != v.dtype:
                raise CompileError(f"op {b.op}: lowering gave {t.dtype}{list(t.shape)} but its shape "
                                   f"rule says {v.dtype}{list(v.shape)}")
            tensors[id(v)] = t
    outputs = [tensor_of(a) for a in body.outputs]
    outputs = _distinct_computes(outputs)
    outputs = inline_stages(outputs)
    return te.create_prim_func(params + const_params + outputs), const_atoms


def _lowering_error(b, name: str, err: MLCError) -> CompileError:
    """What to say when op ``b`` of fused function ``name`` cannot be lowered: an op whose
    lowering needs a size that a dynamic axis (``mlc.jit(dynamic=...)``) leaves symbolic
    says so and how to go on; any other failure as it came. Both end at the user's line."""
    loc = f"\n  at {b.loc}" if b.loc is not None else ""
    shapes = [a.shape for a in b.args if hasattr(a, "shape")]
    if isinstance(err, IRError) and any(not isinstance(d, int) for s in shapes for d in s):
        listed = ", ".join(str(tuple(s)) for s in shapes)
        return CompileError(f"{b.op} does not support these dynamic axes (operand shapes {listed}): "
                            f"{err}. Mark fewer axes dynamic (mlc.jit(dynamic=...)), or give this op "
                            f"static sizes{loc}")
    return CompileError(f"lowering {b.op} in {name} failed: {err}{loc}")


def _hand_written(body: Graph, name: str) -> tuple[PrimFunc, list[Constant]]:
    """The op's own PrimFunc (an opaque op with ``prim_func``, recorded on it by
    :func:`~mlc.ops.hand_written.hand_written`), its parameters put in the group's order: the
    inputs, then the constants, then the outputs (``"mlc.op_params"`` says which stands for which)."""
    (b,) = body.bindings
    try:
        func = hand_written(b.op, [a.type for a in b.args], dict(b.attrs))
    except MLCError as err:
        raise _lowering_error(b, name, err) from err
    n_in = len(b.args)
    arg_params, out_params = func.params[:n_in], func.params[n_in:]
    if [id(v) for v in body.outputs] != [id(v) for v in b.outputs]:
        raise CompileError(f"lowering {b.op} in {name}: the group must return every output of an op "
                           "lowered by a hand-written PrimFunc")
    by_atom, same = {}, {}
    for a, p in zip(b.args, arg_params):
        first = by_atom.setdefault(id(a), p)
        if first is not p:  # one value passed twice: its parameters become one
            same[id(p)] = first
    if same:
        func = replace(func, body=_SameBuffer(same).visit(func.body))
    consts = list({id(a): a for a in b.args if isinstance(a, Constant)}.values())
    params = [by_atom[id(v)] for v in body.inputs] + [by_atom[id(c)] for c in consts] + list(out_params)
    at = {id(p): k for k, p in enumerate(params)}
    func = with_op_params(func, [at[id(by_atom[id(a)])] for a in b.args], [at[id(p)] for p in out_params])
    return replace(func, params=tuple(params)), consts


class _SameBuffer(Mutator):
    """Every use of a buffer (by ``id``) replaced by the one it maps to."""

    def __init__(self, bmap):
        self.bmap = bmap

    def visit_buffer(self, buffer):
        return self.bmap.get(id(buffer), buffer)


def _distinct_computes(outputs: list[te.Tensor]) -> list[te.Tensor]:
    """Outputs that are inputs, or repeat another output, become copies (own buffers)."""
    seen: set[int] = set()
    out = []
    for t in outputs:
        if isinstance(t.op, te.PlaceholderOp) or id(t.buffer) in seen:
            t = te.compute(t.shape, lambda *i, t=t: t[i], name="T_copy")
        seen.add(id(t.buffer))
        out.append(t)
    return out


def lower_to_tir(graph: Graph) -> Graph:
    """Replace every ``fused`` binding by a ``call_tir`` of its PrimFunc: lowered from its
    ops, or, when its bindings are all ``call_tir``, their PrimFuncs merged into one
    (:func:`~.fuse_tir.merge_call_tir_group`). Groups whose PrimFuncs are structurally equal
    share one (compared only where their parameters' types agree, :func:`_shared`)."""
    functions: dict[str, PrimFunc] = {} if graph.module is None else dict(graph.module.items())
    lowered = _lower_bindings(graph, functions, {}, {}, {})
    return lowered.with_bindings(lowered.bindings, module=IRModule(functions))


def _lower_bindings(graph: Graph, functions: dict[str, PrimFunc], by_signature: dict[tuple, list[str]],
                    hashes: dict[str, int], bodies: dict[tuple, list]) -> Graph:
    """``graph`` with its fused bindings (and those of the bodies of its loops and branches)
    replaced by ``call_tir`` bindings of the PrimFuncs added to ``functions``: the kernels
    of a nested body live in the module of the outermost graph. A group structurally equal
    to one lowered before (``bodies``: :func:`_body_key` -> [body, PrimFunc name, where its
    constants are, its hash]) calls that one's PrimFunc without being lowered again: a loop the
    tracer unrolled repeats its groups (:func:`_same_body`)."""
    bindings = []
    for b in graph.bindings:
        if is_control(b):
            bindings.append(map_bodies(b, lambda g: _lower_bindings(g, functions, by_signature, hashes, bodies)))
            continue
        if b.op != "fused":
            bindings.append(b)
            continue
        body, base = _group_of(b)
        merged = is_call_tir_group(body)
        seen = None if merged else _same_body(body, bodies)
        if seen is not None:
            name, consts = seen
        else:
            if merged:  # ops already mapped to TensorIR: merge their PrimFuncs
                func, consts = merge_call_tir_group(body, IRModule(functions), base), []
            else:
                func, consts = lower_group(body, base)
            alike = by_signature.setdefault(_signature(func), [])
            name = _shared(func, alike, functions, hashes)
            if name is None:
                name = unique_name(base, set(functions))
                functions[name] = func
                alike.append(name)
            if not merged:
                _remember_body(body, name, consts, bodies)
        args = b.args + tuple(consts)
        attrs = (("func", name),)
        pairs = call_inplace(body, args) if not merged else ()
        if pairs:  # the kernel updates these outputs in place (plan_memory and emit_main honour it)
            attrs += ((INPLACE, pairs),)
        bindings.append(Binding(b.outputs, "call_tir", args, attrs, b.loc))
    return graph.with_bindings(bindings)


def _same_body(body: Graph, bodies: dict[tuple, list]) -> tuple[str, list[Constant]] | None:
    """(the PrimFunc name, ``body``'s constants in the order the PrimFunc takes them) of a
    group lowered before whose body is structurally equal to ``body`` (the same ops, attributes,
    types and constant data: :func:`lower_group` gives equal PrimFuncs), or None. Bodies are
    hashed only where another has the same ops on inputs of the same types (as :func:`_shared`
    hashes functions)."""
    candidates = bodies.get(_body_key(body))
    if not candidates:
        return None
    key = structural_hash(body)
    for entry in candidates:
        other, name, where, hashed = entry
        if hashed is None:
            hashed = entry[3] = structural_hash(other)
        if hashed == key and structural_equal(other, body):
            return name, [_at(body, w) for w in where]
    return None


def _remember_body(body: Graph, name: str, consts: list[Constant], bodies: dict[tuple, list]) -> None:
    """Keep ``body`` (lowered to PrimFunc ``name``, taking ``consts`` after its inputs) for
    :func:`_same_body`: where each constant is, as (binding, argument) or (None, output)."""
    where = []
    for c in consts:
        spot = next(((i, j) for i, b in enumerate(body.bindings) for j, a in enumerate(b.args) if a is c),
                    None)
        if spot is None:
            spot = next(((None, k) for k, a in enumerate(body.outputs) if a is c), None)
        if spot is None:  # (not found: this body is not remembered)
            return
        where.append(spot)
    bodies.setdefault(_body_key(body), []).append([body, name, tuple(where), None])


def _body_key(body: Graph) -> tuple:
    """What structurally equal group bodies share and cheap to tell: their ops, in order, and
    their inputs' types."""
    return tuple(b.op for b in body.bindings), tuple((v.shape, v.dtype) for v in body.inputs)


def _at(body: Graph, where: tuple) -> Constant:
    i, j = where
    return body.outputs[j] if i is None else body.bindings[i].args[j]


def _signature(func: PrimFunc) -> tuple:
    """What structurally equal functions share and cheap to tell: each parameter's dtype and
    constant extents (a symbolic one as None: equal functions may name their variables apart)."""
    return tuple((p.dtype, tuple(e.value if isinstance(e, IntImm) else None for e in p.shape))
                 for p in func.params)


def _shared(func: PrimFunc, candidates: list[str], functions: dict[str, PrimFunc],
            hashes: dict[str, int]) -> str | None:
    """The name of the function of ``candidates`` (of the same :func:`_signature`) structurally
    equal to ``func``, or None. Hashes are made only where there is a candidate: a graph's
    groups mostly differ in their parameters, and a structural hash is a millisecond of a
    softmax's first call."""
    if not candidates:
        return None
    key = structural_hash(func)
    for name in candidates:
        if name not in hashes:
            hashes[name] = structural_hash(functions[name])
        if hashes[name] == key and structural_equal(functions[name], func):
            return name
    return None


def _group_of(b: Binding) -> tuple[Graph, str]:
    """A fused binding's body and the name its PrimFunc takes: its ``name`` attribute,
    or one made from the body's ops when it has none (or one that is no identifier)."""
    body = b.attr("body")
    if not isinstance(body, Graph):
        raise IRError(f"binding {b.describe()}: a fused binding needs a 'body' attribute holding "
                      f"the group as a Graph, got {type(body).__name__}")
    name = b.attr("name")
    if not isinstance(name, str) or not name.isidentifier():
        name = group_name([m.op for m in body.bindings])
    return body, name
