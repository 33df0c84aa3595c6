"""A traced graph run eagerly through NumPy: the first tier that is ready soonest.

A jitted function's first call of a signature (``mlc.jit(tiered=True)``, the default) has
a choice: compile, then run the program (tens of milliseconds of passes and LLVM before
the first result), or run the graph as traced, op by op, through each op's NumPy
``reference`` (the oracle the tests check the kernels against) while the optimised
program is built in the background (:mod:`.tiering`). The eager run costs about what
NumPy costs, with its temporaries, and nothing before it starts. :func:`plan` estimates
both and says which comes first; :class:`EagerEntry` is the eager program, run as a
compiled ``main`` is (the call's checks, write-back and output tree stay the jit's).

The estimate (:func:`estimated_cost`) is a memory-traffic model: an element-wise,
broadcast, injective or reduction op costs the bytes it reads and writes
(:data:`SECONDS_PER_BYTE`; some math functions, and every op on float16, run several times
slower in NumPy: :data:`SLOW_MATH`); a floating-point matrix product costs its flops at BLAS speed
(:data:`SECONDS_PER_BLAS_FLOP`), which the compiled kernel pays too, so that part never
counts against the eager run; an ``einsum`` or an integer product costs its flops at
NumPy's slower paths; an opaque op (a sort, a factorisation, a scan) its elements at
:data:`SECONDS_PER_OPAQUE_ELEMENT`. A graph runs eagerly when what the eager run costs
beyond the shared work is below what compiling costs at least
(:func:`compile_estimate`: :data:`COMPILE_BASE_S` and a share per kernel-making op). A
graph with a control-flow op, a loop written element by element (:data:`NEVER_EAGER`), an
op without a NumPy reference of the library (a user's ``mlc.op``, whose reference
interprets its te body), a dynamic axis, or a target other than the CPU is never run
eagerly.

Results: what NumPy computes, in the dtype and shape the trace inferred. Outputs are
arrays of their own (never an argument, a constant or a view of one), C-contiguous and
writeable, as the compiled program's are. NumPy's floating-point warnings are off, as
compiled code raises none. A reference that fails (:class:`EagerFailed`) hands the call
to the optimised program, built then.

>>> import numpy as np
>>> from mlc.ir.graph import Binding, Graph, Var
>>> from mlc.ir.types import TensorType
>>> x = Var("x", TensorType((2, 3), "float32"))
>>> y = Var("y", TensorType((2, 3), "float32"))
>>> g = Graph((x,), (Binding((y,), "exp", (x,)),), (y,))
>>> plan(g) is not None
True
>>> EagerEntry(g).run([np.zeros((2, 3), "float32")])[0]
array([[1., 1., 1.],
       [1., 1., 1.]], dtype=float32)
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import MLCError
from ..ir.control import CONTROL_OPS
from ..ir.graph import Constant, Graph
from ..ops.registry import get_op
from ..passes.graph.dce import dead_code_elimination

__all__ = ["plan", "estimated_cost", "compile_estimate", "EagerEntry", "EagerFailed", "IN_PLACE_UFUNCS", "VIEWS",
           "SECONDS_PER_BYTE",
           "SECONDS_PER_BLAS_FLOP", "SECONDS_PER_OPAQUE_ELEMENT", "COMPILE_BASE_S", "SLOW_MATH"]

#: NumPy's element-wise loops and reductions: seconds per byte read or written. The cost
#: model's constants were measured on a 2-core Intel host (benchmarks/results/decisions.md,
#: "The eager first tier"); they decide only which first tier is sooner.
SECONDS_PER_BYTE = 0.1e-9
#: The ops NumPy evaluates several times slower than a memory-bound loop (scalar library
#: calls, several passes): their bytes weigh :data:`SLOW_FACTOR` times more.
SLOW_MATH = frozenset({
    "power", "float_power", "erf", "erfinv", "cbrt", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
    "arctanh", "arctan2", "sinh", "cosh", "tan", "hypot", "logaddexp", "logaddexp2", "spacing", "nextafter",
    "ldexp", "expm1", "log1p", "exp2", "fmod", "remainder", "floor_divide", "random.threefry2x32",
    "random.bits", "random.unit", "take", "take_along_axis", "nn.gelu", "nn.silu", "sigmoid",
})
SLOW_FACTOR = 8
#: A float matrix product through BLAS (``np.matmul``): seconds per flop (half the rate
#: measured, to be safe).
SECONDS_PER_BLAS_FLOP = 0.007e-9
#: ``np.einsum`` (whose inner loops are NumPy's own unless it finds a BLAS call) and integer
#: or boolean matrix products (NumPy's plain loops): seconds per flop.
SECONDS_PER_SLOW_FLOP = 0.5e-9
#: An opaque op (a sort, a scan, a factorisation, a hand-written kernel's reference):
#: seconds per element read or written, the slowest of its references measured.
SECONDS_PER_OPAQUE_ELEMENT = 150e-9
#: Opaque ops whose references are NumPy's fast routines: seconds per element (the row
#: ops: their time over a float32 multiply's of the same rows, measured, at
#: :data:`SECONDS_PER_BYTE`, doubled for a first call's new pages).
_CHEAP_OPAQUE = {"cumsum": 5e-9, "cumprod": 5e-9, "index_add": 20e-9, "element_set": 2e-9,
                 "write_row": 2e-9, "dynamic_update_slice": 2e-9, "nn.softmax": 4e-9, "nn.log_softmax": 5e-9,
                 "nn.softmax_vjp": 4e-9, "nn.layer_norm": 4e-9, "nn.layer_norm_vjp": 6e-9,
                 "sort": 4e-9}
#: What a compiled first call costs at least (tracing aside): the graph passes, one kernel's
#: scheduling, lowering and code generation, LLVM, loading: the fastest of the compile times
#: measured (first call minus the run), so that an eager run is chosen only where it wins.
COMPILE_BASE_S = 0.020
#: What each op adds to it at least: a reduction, a product or an opaque op makes a kernel of
#: its own (its schedule, its LLVM work); another op a part of one.
COMPILE_PER_KERNEL_S = 0.030
COMPILE_PER_OP_S = 0.002
#: Kernels that cost more than :data:`COMPILE_PER_KERNEL_S` to compile: seconds each (a row
#: op's several stages: the least of the row reductions measured).
COMPILE_KERNEL_S = {"nn.conv2d": 0.070, **dict.fromkeys(
    ("nn.softmax", "nn.log_softmax", "nn.softmax_vjp", "nn.layer_norm", "nn.layer_norm_vjp"), 0.055)}

#: What each binding costs the eager run besides its work: the reference's Python call.
SECONDS_PER_BINDING = 10e-6
#: Ops never run eagerly: a loop the user wrote element by element (its reference interprets
#: the loop: its cost is its trip counts, not its arrays).
NEVER_EAGER = frozenset({"element_loop"})

_KERNEL_PATTERNS = ("reduction", "out_elemwise_fusable", "opaque")
_BYTE_PATTERNS = ("elemwise", "broadcast", "injective", "reduction")
_PRODUCTS = {"matmul", "dot", "nn.dense"}


class EagerFailed(MLCError):
    """An op's NumPy reference could not compute a binding as the trace typed it (internal:
    the call runs the optimised program instead)."""


def _library_reference(op) -> bool:
    """Whether ``op``'s reference is the library's own NumPy code (a user's ``mlc.op``
    interprets its te body: far too slow to run eagerly)."""
    module = getattr(op.reference, "__module__", "") or ""
    return op.reference is not None and module.startswith("mlc.ops")


def _nbytes(value) -> int:
    return value.type.size * np.dtype(value.dtype).itemsize


def _product_flops(binding) -> int:
    """2 x (the output's elements) x (the reduced extent) of a matrix product or an einsum: the
    reduced extent is the first input's elements over the output's rows it makes."""
    a = binding.args[0]
    out = binding.outputs[0]
    if binding.op == "einsum":
        sizes = [arg.type.size for arg in binding.args]
        return 2 * max(out.type.size, 1) * max(1, math.prod(sizes) // max(out.type.size, 1) // max(sizes))
    k = a.shape[-1] if a.shape else 1
    return 2 * max(out.type.size, 1) * max(k, 1)


def estimated_cost(graph: Graph) -> tuple[float, float] | None:
    """(seconds the eager run costs, the part of them a compiled run costs as well: float
    matrix products at BLAS speed); None where ``graph`` cannot run eagerly."""
    eager = shared = 0.0
    for b in graph.bindings:
        if b.op in CONTROL_OPS or b.op in NEVER_EAGER:
            return None
        eager += SECONDS_PER_BINDING
        try:
            op = get_op(b.op)
        except MLCError:  # fused, call_tir, call_dps_packed, view: not a traced op
            return None
        if not _library_reference(op):
            return None
        values = (*b.args, *b.outputs)
        if not all(isinstance(n, int) for v in values for n in v.shape):
            return None
        if b.op in _PRODUCTS or b.op == "einsum":
            flops = _product_flops(b)
            if b.op != "einsum" and np.dtype(b.outputs[0].dtype).kind in "fc":
                cost = flops * SECONDS_PER_BLAS_FLOP
                shared += cost
            else:
                cost = flops * SECONDS_PER_SLOW_FLOP
            eager += cost + sum(map(_nbytes, values)) * SECONDS_PER_BYTE
        elif b.op in VIEWS:
            continue
        elif op.pattern in _BYTE_PATTERNS:
            slow = b.op in SLOW_MATH or any(v.dtype == "float16" for v in values)  # (NumPy converts each half)
            eager += sum(map(_nbytes, values)) * SECONDS_PER_BYTE * (SLOW_FACTOR if slow else 1)
        else:
            per_element = _CHEAP_OPAQUE.get(b.op, SECONDS_PER_OPAQUE_ELEMENT)
            eager += sum(v.type.size for v in values) * per_element
    return eager, shared


def compile_estimate(graph: Graph) -> float:
    """Seconds a compiled first call of ``graph`` costs at least, tracing aside."""
    seconds = COMPILE_BASE_S
    for b in graph.bindings:
        if getattr(_op_or_none(b.op), "pattern", None) in _KERNEL_PATTERNS:
            seconds += COMPILE_KERNEL_S.get(b.op, COMPILE_PER_KERNEL_S)
        else:
            seconds += COMPILE_PER_OP_S
    return seconds


def _op_or_none(name: str):
    try:
        return get_op(name)
    except MLCError:
        return None


def plan(graph: Graph) -> Graph | None:
    """``graph`` without the bindings no output needs, where running it eagerly gives the
    first result sooner than compiling it would (:func:`estimated_cost` against
    :func:`compile_estimate`); None where it does not, or cannot run eagerly."""
    graph = dead_code_elimination(graph)  # (dead code computes nothing a call returns)
    cost = estimated_cost(graph)
    if cost is None:
        return None
    eager, shared = cost
    return graph if eager - shared <= compile_estimate(graph) else None


#: Element-wise ops that NumPy's ufunc of the same name computes as their references do (on
#: floating-point results): the eager run writes them into a temporary that dies there.
IN_PLACE_UFUNCS = {name: getattr(np, name) for name in (
    "add", "subtract", "multiply", "divide", "maximum", "minimum", "negative", "exp", "log", "sqrt", "tanh",
    "sin", "cos", "absolute", "square", "reciprocal")}


#: Ops whose references copy what NumPy gives as a view: the eager run takes the view (a
#: later op reads through it; an output that is one is copied; no temporary it views is
#: written in place), and the estimate counts no bytes for them.
VIEWS = {
    "slice": lambda x, *, starts, stops, steps: x[tuple(slice(*d) for d in zip(starts, stops, steps))],
    "reshape": lambda x, *, newshape: np.reshape(x, newshape),
    "transpose": lambda x, *, axes=None: np.transpose(x, axes),
    "broadcast_to": lambda x, *, shape: np.broadcast_to(x, shape),  # (read-only: never written in place)
}


def _root(array: np.ndarray):
    """The array whose memory ``array`` views (itself when it owns its memory)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


class EagerEntry:
    """``run(leaves)`` -> the list of ``graph``'s outputs, each binding computed by its op's
    NumPy reference: what a compiled ``main`` returns for the same leaves (the graph's inputs,
    in order; Python numbers among them as 0-d arrays of the input's dtype). ``single``: the
    lone output itself instead of a list (as ``main_entry(..., single=True)`` gives it).

    An element-wise op of :data:`IN_PLACE_UFUNCS` writes its floating-point result into the
    memory of an argument that no later binding or output reads (a temporary of this run,
    owning its memory, which nothing else views), as NumPy code normalised in place does:
    no new memory to fault in (a 16 MB temporary costs some milliseconds)."""

    #: the sizes a call binds (a main's of dynamic axes): none, the eager tier's axes are static
    sizes = None

    def __init__(self, graph: Graph, single: bool = False):
        self.graph, self.single = graph, single
        inputs = graph.inputs
        self._inputs = tuple((id(v), np.dtype(v.dtype)) for v in inputs)
        last: dict[int, int] = {}
        for n, b in enumerate(graph.bindings):
            for a in b.args:
                last[id(a)] = n
        kept = {id(v) for v in graph.outputs}
        produced: set[int] = set()
        steps = []
        for n, b in enumerate(graph.bindings):
            op = get_op(b.op)
            reference = VIEWS.get(b.op, op.reference)
            outs = tuple((id(v), v.shape, np.dtype(v.dtype)) for v in b.outputs)
            # the arguments whose last use this is: their vars are forgotten after it, and one of
            # them, a temporary of the same type as the result, may take it (IN_PLACE_UFUNCS)
            dying = tuple(dict.fromkeys(id(a) for a in b.args if last[id(a)] == n and id(a) in produced
                                        and id(a) not in kept))
            ufunc = IN_PLACE_UFUNCS.get(b.op) if len(outs) == 1 and outs[0][2].kind in "fc" else None
            reusable = tuple(id(a) for a in b.args if id(a) in dying and a.shape == outs[0][1]
                             and np.dtype(a.dtype) == outs[0][2]) if ufunc is not None else ()
            steps.append((reference, tuple(b.args), dict(b.attrs), outs, op.num_outputs == 1, b,
                          ufunc if reusable else None, reusable, dying))
            produced.update(id(v) for v in b.outputs)
        self._steps = tuple(steps)
        self._outputs = tuple(graph.outputs)

    def run(self, leaves) -> list[np.ndarray]:
        env: dict[int, np.ndarray] = {}
        given: set[int] = set()
        #: how many live values' memory each array (by id) holds: a temporary is overwritten
        #: only where it holds its own value's alone (the arguments' roots: never)
        holders: dict[int, int] = {}
        if len(leaves) != len(self._inputs):
            raise EagerFailed(f"the eager program takes {len(self._inputs)} arrays, got {len(leaves)}")
        for (key, dtype), leaf in zip(self._inputs, leaves):
            array = np.asarray(leaf, dtype=dtype)
            env[key] = array
            given.add(id(array))
            holders[id(_root(array))] = 1 << 30
        with np.errstate(all="ignore"):
            for reference, args, attrs, outs, single, binding, ufunc, reusable, dying in self._steps:
                values = [a.data if type(a) is Constant else env[id(a)] for a in args]
                result = None
                if ufunc is not None:
                    for key in reusable:
                        target = env[key]
                        if target.base is None and holders.get(id(target)) == 1 and target.flags.writeable:
                            try:
                                result = ufunc(*values, out=target)
                            except Exception:  # noqa: BLE001 - (a cast NumPy refuses): the reference
                                result = None
                            break
                if result is None:
                    try:
                        result = reference(*values, **attrs)
                    except Exception as err:  # noqa: BLE001 - the compiled program computes it instead
                        raise EagerFailed(f"{binding.describe()}: its NumPy reference raised "
                                          f"{type(err).__name__}: {err}") from err
                results = (result,) if single else tuple(result)
                if len(results) != len(outs):
                    raise EagerFailed(f"{binding.describe()}: its reference gave {len(results)} results")
                for (key, shape, dtype), value in zip(outs, results):
                    array = np.asarray(value)
                    if array.shape != shape:
                        raise EagerFailed(f"{binding.describe()}: its reference gave shape {array.shape}, "
                                          f"the trace inferred {shape}")
                    if array.dtype != dtype:
                        array = array.astype(dtype)
                    env[key] = array
                    root = id(_root(array))
                    holders[root] = holders.get(root, 0) + 1
                for key in dying:
                    root = id(_root(env.pop(key)))
                    holders[root] -= 1
        out, seen, returned = [], {}, set()
        for value in self._outputs:
            if id(value) in seen:  # (one value returned twice: one array, as main returns it)
                out.append(seen[id(value)])
                continue
            array = value.data if type(value) is Constant else env[id(value)]
            if (array.base is not None or id(array) in given or id(array) in returned or type(value) is Constant
                    or not array.flags.c_contiguous or not array.flags.writeable):
                array = np.array(array, order="C", copy=True)
            seen[id(value)] = array
            returned.add(id(array))
            out.append(array)
        return out[0] if self.single else out
