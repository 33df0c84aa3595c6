"""How to add a backend (docs/architecture.md): a second GPU backend, written in this file.

``opencl-emulator`` renders OpenCL C (source only: no OpenCL runtime is needed here)
and runs the kernels on mlc's GPU emulator. It is one TargetKind with the ``"gpu"``
key and its device's limits, and one object with the backend protocol; everything
else comes from the GPU layer every GPU backend shares — the default GPU schedule
(picked by the driver for the ``"gpu"`` key), the GPU TIR pipeline, launch regions
and the emulator. No file of ``mlc/`` names this backend or changes for it.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.backends.gpu.emulator import Emulator
from mlc.backends.gpu.launch import kernels
from mlc.passes.tir.gpu_pipeline import GPU_PIPELINE
from mlc.runtime.graph_main import GraphMainProgram
from mlc.backends.registry import register_backend, unregister_backend
from mlc.errors import CompileError
from mlc.ir.calls import is_graph_main
from mlc.ir.expr import Binary, Broadcast, BufferLoad, Call, Cast, FloatImm, IntImm, Let, Not, Ramp, Select, Var
from mlc.ir.tir import Allocate, BufferStore, Evaluate, For, IfThenElse, LetStmt, SeqStmt
from mlc.passes.tir.thread_sync import SYNC_THREADS
from mlc.passes.tir.warp_shuffle import SHFL_DOWN, shfl_args
from mlc.runtime.module import Function, Module, written_params
from mlc.target import DeviceLimits, Target, TargetKind, register_target_kind, unregister_target_kind

# -- the backend: a renderer (lowered GPU TIR -> OpenCL C) and a runtime (the emulator) --

#: A smaller GPU than the CUDA targets': 128 work-items a work-group, 32 KiB of local memory.
LIMITS = DeviceLimits(max_threads_per_block=128, max_shared_memory_per_block=32 * 1024, warp_size=32,
                      max_block=(128, 128, 64), max_grid=((1 << 31) - 1, 65535, 65535))
KIND = TargetKind("opencl-emulator", keys=("gpu",), limits=LIMITS)

_TYPES = {"float32": "float", "float64": "double", "int32": "int", "int64": "long", "bool": "bool",
          "int8": "char", "uint8": "uchar", "int16": "short", "float16": "half"}
_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "eq": "==", "ne": "!=", "lt": "<", "le": "<=",
        "gt": ">", "ge": ">=", "and": "&&", "or": "||", "bitand": "&", "bitor": "|", "bitxor": "^",
        "shl": "<<", "shr": ">>"}
_FUNCS = {"max": "max", "min": "min", "floordiv": "mlc_floordiv", "floormod": "mlc_floormod"}
_IDS = {"blockIdx": "get_group_id", "threadIdx": "get_local_id"}
#: Python's floor division and modulo on ints (C's truncate), for index arithmetic.
PRELUDE = """inline long mlc_floordiv(long a, long b) { long q = a / b; return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q; }
inline long mlc_floormod(long a, long b) { return a - mlc_floordiv(a, b) * b; }
"""


class OpenCLRenderer:
    """One ``__kernel`` per launch region (:func:`mlc.backends.gpu.launch.kernels`)."""

    def __init__(self, func, name: str, limits: DeviceLimits):
        self.func, self.name, self.limits = func, name, limits
        self.lets = {}  # the variable of a Let -> the text of its value

    def render(self) -> str:
        out = []
        for k in kernels(self.func, self.limits):
            params = ", ".join(f"__global {_type(p.dtype)}* {p.name}" for p in k.params)
            lines = [f"__kernel void {k.name}({params}) {{"]
            lines += [f"  __local {_type(b.dtype)} {b.name}[{_size(b)}];" for b in k.shared]
            lines += [f"  {_type(b.dtype)} {b.name}[{_size(b)}];" for b in k.local]
            self.stmt(k.body, lines, 1)
            out.append("\n".join(lines + ["}"]))
        return "\n\n".join(out) + "\n"

    def stmt(self, s, lines: list[str], depth: int) -> None:
        pad = "  " * depth
        if isinstance(s, SeqStmt):
            for item in s.seq:
                self.stmt(item, lines, depth)
        elif isinstance(s, For) and s.kind == "thread_binding":
            scope, _, axis = s.thread_binding.partition(".")
            lines.append(f"{pad}int {s.loop_var.name} = {_IDS[scope]}({'xyz'.index(axis)});")
            self.stmt(s.body, lines, depth)
        elif isinstance(s, For):
            v = s.loop_var.name
            lines.append(f"{pad}for ({_type(s.loop_var.dtype)} {v} = {self.expr(s.min)}; "
                         f"{v} < {self.expr(s.min)} + {self.expr(s.extent)}; ++{v}) {{")
            self.stmt(s.body, lines, depth + 1)
            lines.append(pad + "}")
        elif isinstance(s, IfThenElse):
            lines.append(f"{pad}if ({self.expr(s.condition)}) {{")
            self.stmt(s.then_case, lines, depth + 1)
            if s.else_case is not None:
                lines.append(pad + "} else {")
                self.stmt(s.else_case, lines, depth + 1)
            lines.append(pad + "}")
        elif isinstance(s, BufferStore) and isinstance(s.indices[0], Ramp):  # a vector of lanes
            lines.append(f"{pad}vstore{s.indices[0].lanes}({self.expr(s.value)}, 0, "
                         f"{s.buffer.name} + {self.dense(s.indices[0])});")
        elif isinstance(s, BufferStore):
            lines.append(f"{pad}{s.buffer.name}[{self.expr(s.indices[0])}] = {self.expr(s.value)};")
        elif isinstance(s, LetStmt):  # a value the stores after it share
            lines.append(f"{pad}const {_type(s.var.dtype)} {s.var.name} = {self.expr(s.value)};")
            self.stmt(s.body, lines, depth)
        elif isinstance(s, Allocate):  # declared at the kernel's top
            self.stmt(s.body, lines, depth)
        elif isinstance(s, Evaluate) and isinstance(s.value, Call) and s.value.op == SYNC_THREADS:
            lines.append(f"{pad}barrier(CLK_LOCAL_MEM_FENCE);")
        else:
            raise CompileError(f"opencl: cannot render {type(s).__name__} statements")

    def expr(self, e) -> str:
        if isinstance(e, FloatImm) and not np.isfinite(e.value):
            return "NAN" if np.isnan(e.value) else ("-INFINITY" if e.value < 0 else "INFINITY")
        if isinstance(e, (IntImm, FloatImm)):
            return repr(e.value) if not isinstance(e.value, bool) else str(int(e.value))
        if isinstance(e, Var):
            return self.lets.get(e, e.name)
        if isinstance(e, Let):  # (C has no let expression: the value written where the body reads it)
            self.lets[e.var] = f"({self.expr(e.value)})"
            return self.expr(e.body)
        if isinstance(e, BufferLoad) and isinstance(e.indices[0], Ramp):
            return f"vload{e.indices[0].lanes}(0, {e.buffer.name} + {self.dense(e.indices[0])})"
        if isinstance(e, BufferLoad) and "x" in e.dtype:  # a gather: lane by lane
            index = self.expr(e.indices[0])
            lanes = ", ".join(f"{e.buffer.name}[({index}).s{n:x}]" for n in range(int(e.dtype.partition("x")[2])))
            return f"(({_type(e.dtype)})({lanes}))"
        if isinstance(e, BufferLoad):
            return f"{e.buffer.name}[{self.expr(e.indices[0])}]"
        if isinstance(e, Ramp):
            base = self.expr(e.base)
            return f"(({_type(e.dtype)})({', '.join(f'{base} + {n * e.stride}' for n in range(e.lanes))}))"
        if isinstance(e, Broadcast):
            return f"(({_type(e.dtype)})({self.expr(e.value)}))"
        if isinstance(e, Cast):
            return f"(({_type(e.dtype)}){self.expr(e.value)})"
        if isinstance(e, Not):
            return f"(!{self.expr(e.a)})"
        if isinstance(e, Select):
            return f"({self.expr(e.cond)} ? {self.expr(e.true_value)} : {self.expr(e.false_value)})"
        if isinstance(e, Binary) and e.op in _OPS:
            return f"({self.expr(e.a)} {_OPS[e.op]} {self.expr(e.b)})"
        if isinstance(e, Binary) and e.op in _FUNCS:
            return f"{_FUNCS[e.op]}({self.expr(e.a)}, {self.expr(e.b)})"
        if isinstance(e, Call) and e.op == SHFL_DOWN:
            value, offset, width = shfl_args(e)
            return f"sub_group_shuffle_down({self.expr(value)}, {offset})"
        if isinstance(e, Call):
            return f"{e.op}({', '.join(self.expr(a) for a in e.args)})"
        raise CompileError(f"opencl: cannot render {type(e).__name__} expressions")

    def dense(self, ramp: Ramp) -> str:
        if ramp.stride != 1:
            raise CompileError(f"opencl: cannot render a strided vector access ({ramp!r})")
        return self.expr(ramp.base)


def _type(dtype: str) -> str:
    """``float`` for float32, ``float4`` for its 4-lane vectors (the IR's ``float32x4``)."""
    base, _, lanes = dtype.partition("x")
    return _TYPES[base] + lanes


def _size(buffer) -> int:
    return int(np.prod([int(e.value) for e in buffer.shape]))


class OpenCLEmulatorBackend:
    """The backend protocol (:class:`mlc.backends.registry.Backend`), nothing more."""

    name = "opencl-emulator"
    target_kinds = ("opencl-emulator",)
    array_types = (np.ndarray,)

    def unavailable_reason(self):
        return None

    def tir_passes(self, target, options):
        return GPU_PIPELINE

    def codegen(self, mod, target, options):
        return mod, {name: OpenCLRenderer(func, name, target.limits).render()
                     for name, func in mod.items() if not is_graph_main(func)}

    def load(self, artifact, mod, target, options):
        lowered, sources = artifact
        functions = {}
        for name, func in lowered.items():
            if not is_graph_main(func):
                fn = functions[name] = Function(name, mod[name], Emulator(func, name, target.limits).run)
                fn.written = written_params(func)
        for name, func in lowered.items():
            if is_graph_main(func):
                functions[name] = Function(name, func, GraphMainProgram(func, functions, name).run)
        return Module(target, functions, {"opencl": PRELUDE + "\n" + "\n".join(sources.values())})


@pytest.fixture(scope="module")
def opencl():
    register_target_kind(KIND)
    backend = register_backend(OpenCLEmulatorBackend())
    yield backend
    unregister_backend("opencl-emulator")
    unregister_target_kind("opencl-emulator")


# -- the tests --

@settings(max_examples=8, deadline=None)
@given(st.integers(1, 300), st.integers(1, 9))
def test_elementwise_programs_run_on_the_emulator_and_render_opencl(opencl, n, m):
    rng = np.random.default_rng(n * 10 + m)
    a, b = rng.standard_normal((n, m)).astype("float32"), rng.standard_normal((m,)).astype("float32")
    f = mlc.jit(target="opencl-emulator")(lambda x, y: np.maximum(x * 2.0 + y, x))
    np.testing.assert_allclose(f(a, b), np.maximum(a * 2.0 + b, a), rtol=1e-6)
    source = f.lower(a, b).compile().lib.get_source("opencl")
    assert "__kernel void" in source and "get_local_id(0)" in source


def test_reductions_render_barriers_and_subgroup_shuffles(opencl):
    x = np.random.default_rng(0).standard_normal((3, 300)).astype("float32")
    f = mlc.jit(target="opencl-emulator")(lambda x: np.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1))
    np.testing.assert_allclose(f(x), np.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1), rtol=1e-5)
    source = f.lower(x).compile().lib.get_source("opencl")
    assert "barrier(CLK_LOCAL_MEM_FENCE);" in source and "sub_group_shuffle_down(" in source
    assert "-INFINITY" in source  # the max's identity


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 5), st.integers(1, 700))
def test_row_sums_use_the_target_threads_and_barriers(opencl, rows, cols):
    x = np.random.default_rng(rows * cols).standard_normal((rows, cols)).astype("float32")
    f = mlc.jit(target="opencl-emulator")(lambda x: np.sum(x, axis=1))
    np.testing.assert_allclose(f(x), x.sum(axis=1), rtol=1e-4, atol=1e-4)


def test_the_target_limits_bound_launches_schedules_and_the_design_space(opencl):
    target = Target.from_str("opencl-emulator")
    assert target.is_gpu and target.limits.max_threads_per_block == 128
    from mlc.schedules.gpu.space import GpuInfo
    assert GpuInfo.from_target(target).max_threads == 128 and GpuInfo.from_target(target).max_shared_bytes == 32768
    A = te.placeholder((1024,), "float32", "A")
    B = te.compute((1024,), lambda i: A[i] + 1.0, "B")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    i0, i1 = sch.split(sch.get_loops(sch.get_block("B"))[0], [None, 512])
    sch.bind(i0, "blockIdx.x")
    sch.bind(i1, "threadIdx.x")
    with pytest.raises(CompileError, match="at most 128"):  # 512 threads: fine for cuda, not here
        mlc.build(sch.mod, "opencl-emulator")
    lib = mlc.build(sch.mod, "cuda-emulator")
    a, b = np.ones(1024, "float32"), np.zeros(1024, "float32")
    lib["main"](a, b)
    assert b.sum() == 2048


@pytest.mark.parametrize("program, shapes", [
    (lambda x: np.exp(x) * 2, [(5, 1000)]),                                     # elementwise: 256 on cuda
    (lambda x: np.sum(x, axis=1), [(3, 4000)]),                                 # cross-thread reductions
    (lambda x: x / np.sum(x, axis=1, keepdims=True), [(4, 1000)]),              # rows in local memory
    (lambda a, b: a @ b, [(64, 48), (48, 80)]),                                 # no 256-thread matmul tiles
])
def test_the_default_gpu_rules_keep_within_the_target_limits(opencl, program, shapes):
    from mlc.driver import schedule_module
    from mlc.passes.tir.gpu_pipeline import lower_for_gpu
    rng = np.random.default_rng(1)
    args = [rng.random(s).astype("float32") for s in shapes]
    f = mlc.jit(target="opencl-emulator")(program)
    np.testing.assert_allclose(f(*args), program(*args), rtol=2e-5)
    mod = schedule_module(f.lower(*args).mod, "opencl-emulator")
    for name, func in mod.items():
        if not is_graph_main(func):
            assert all(k.threads <= 128 for k in kernels(lower_for_gpu(func), LIMITS)), name


def test_float16_matmuls_get_no_tensor_core_calls_without_the_wmma_key(opencl):
    a, b = np.ones((64, 64), "float16"), np.ones((64, 64), "float16")
    f = mlc.jit(target="opencl-emulator")(lambda a, b: np.matmul(a, b, dtype="float32"))
    np.testing.assert_array_equal(f(a, b), np.full((64, 64), 64, "float32"))
    assert "wmma" not in f.lower(a, b).compile().lib.get_source("opencl")


def test_a_gpu_kind_gives_its_limits_and_a_cpu_target_has_none():
    with pytest.raises(mlc.MLCError, match="gives its device limits"):
        TargetKind("gpu-without-limits", keys=("gpu",))
    with pytest.raises(mlc.MLCError, match="keys must be a tuple"):
        TargetKind("one-string-key", keys="gpu")
    with pytest.raises(mlc.MLCError, match="has no device limits"):
        Target.from_str("llvm").limits
    assert Target.from_str("llvm").keys == ("cpu",) and not Target.from_str("reference").is_gpu
    assert Target.from_str("cuda").is_gpu and Target.from_str("cuda").kind_info.emulator == "cuda-emulator"
