"""CUDA C from lowered GPU TIR: one ``extern "C" __global__`` kernel per launch region.

:func:`render` takes a function lowered by :data:`~mlc.passes.tir.gpu_pipeline.GPU_PIPELINE`
and returns its CUDA source and launch list. Each kernel
(:func:`~.launch.kernels`) becomes::

    extern "C" __global__ void __launch_bounds__(128) main_kernel(float* __restrict__ C,
                                                                  const float* __restrict__ A) {
      __shared__ float A_shared[130];          // shared: one per block, declared once
      float C_local[16];                       // local: one per thread
      int i_0 = (int)blockIdx.x;               // a thread-bound loop is its index
      ...
      __syncthreads();                         // the barriers of insert_thread_sync
    }

A ``LetStmt`` (a value a run of stores shares, :mod:`mlc.passes.tir.block_values`) is a
``const T v = value;`` line before the stores. Index arithmetic keeps the IR's dtype
(int32 unless the IR says int64); the index of a buffer of 2^31 elements or more is computed in 64 bits. Math
calls are rendered by the lowerings the backend registers in the intrinsic
registry (:mod:`.intrinsics`: precise CUDA functions; with ``fast_math`` the
``__expf`` family); float16 operands are computed in float32.
WMMA calls (``T.call_extern`` of the tensor-core intrinsics) and fragment
buffers are rendered by :mod:`.wmma` (``nvcuda::wmma``, ``#include <mma.h>``).
Vector IR (``T.Ramp`` indices, ``float32x4`` values) becomes ``float4``-style
loads and stores where aligned (:mod:`.vector`); vectorized loops the
vectorizer left as loops are rendered as scalar loops. complex64 and
complex128 values are the structs of :mod:`.complex` (their arithmetic and math
are float TIR by now: :mod:`mlc.passes.tir.lower_complex`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import CompileError
from ...ir import dtype as dt
from ...ir.buffer import FRAGMENT_SCOPES, Buffer
from ...ir.expr import (REINTERPRET, Binary, BufferLoad, Call, Cast, FloatImm, IntImm, Let, Not, Select, Var,
                        cast)
from ...ir.extern import PREFETCHES, CallExtern
from ...ir.functor import always_evaluated, binary_chain, pre_order_nodes
from ...ir.ops import MATH_CALLS
from ...ir.tir import (Allocate, BufferStore, Evaluate, For, IfThenElse, LetStmt, PrimFunc, SeqStmt, While)
from ...passes.tir.async_copy import is_async_scope
from ...passes.tir.lower_complex import ROUNDED_PRODUCTS
from ...passes.tir.thread_sync import SYNC_THREADS
from ..intrinsics import intrinsic_lowering
from .intrinsics import BACKEND
from ...passes.tir.warp_shuffle import SHFL_DOWN, shfl_args
from . import complex as complex_c, wgmma, wmma
from .c_types import C_TYPES, ctype, float_literal, float_to_int, int_literal
from .target_kind import CUDA_LIMITS
from .async_copy import ASYNC_PRELUDE, async_targets, render_async_call, render_async_store, uses_async
from ..gpu.launch import Kernel, kernels, workspace
from .vector import copied_buffers, is_vector_store, render_vector_store

__all__ = ["render", "CudaSource", "Launch"]

_BINARY_C = {"add": "+", "sub": "-", "mul": "*", "eq": "==", "ne": "!=", "lt": "<", "le": "<=",
             "gt": ">", "ge": ">=", "and": "&&", "or": "||", "bitand": "&", "bitor": "|",
             "bitxor": "^", "shl": "<<", "shr": ">>"}

#: Helpers for the IR's semantics where C's differ (docs/ir-semantics.md).
PRELUDE = r"""
template <typename T> __device__ __forceinline__ T mlc_floordiv(T a, T b) {
  if (b == 0) return 0;
  T q = a / b;
  return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
}
template <typename T> __device__ __forceinline__ T mlc_floormod(T a, T b) {
  if (b == 0) return 0;
  T r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
template <typename T> __device__ __forceinline__ T mlc_truncdiv(T a, T b) { return b == 0 ? 0 : a / b; }
template <typename T> __device__ __forceinline__ T mlc_truncmod(T a, T b) { return b == 0 ? 0 : a % b; }
template <typename T> __device__ __forceinline__ T mlc_min(T a, T b) { return a < b ? a : b; }
template <typename T> __device__ __forceinline__ T mlc_max(T a, T b) { return a > b ? a : b; }
__device__ __forceinline__ float mlc_min(float a, float b) { return (a < b || a != a) ? a : b; }
__device__ __forceinline__ float mlc_max(float a, float b) { return (a > b || a != a) ? a : b; }
__device__ __forceinline__ double mlc_min(double a, double b) { return (a < b || a != a) ? a : b; }
__device__ __forceinline__ double mlc_max(double a, double b) { return (a > b || a != a) ? a : b; }
__device__ __forceinline__ int mlc_trunc32(float v) { return (v >= -2147483648.0f && v < 2147483648.0f) ? (int)v : (int)0x80000000u; }
__device__ __forceinline__ int mlc_trunc32(double v) { return (v >= -2147483648.0 && v < 2147483648.0) ? (int)v : (int)0x80000000u; }
__device__ __forceinline__ long long mlc_trunc64(float v) {
  return (v >= -9223372036854775808.0f && v < 9223372036854775808.0f) ? (long long)v : (long long)0x8000000000000000ull;
}
__device__ __forceinline__ long long mlc_trunc64(double v) {
  return (v >= -9223372036854775808.0 && v < 9223372036854775808.0) ? (long long)v : (long long)0x8000000000000000ull;
}
template <typename F> __device__ __forceinline__ unsigned int mlc_f2u32(F v) {
  return v >= (F)2147483648.0 ? (unsigned int)mlc_trunc32(v - (F)2147483648.0) ^ 0x80000000u : (unsigned int)mlc_trunc32(v);
}
template <typename F> __device__ __forceinline__ unsigned long long mlc_f2u64(F v) {
  return v >= (F)9223372036854775808.0 ? (unsigned long long)mlc_trunc64(v - (F)9223372036854775808.0) ^ 0x8000000000000000ull
                                       : (unsigned long long)mlc_trunc64(v);
}
template <typename To, typename From> __device__ __forceinline__ To mlc_bitcast(From x) {
  To y; memcpy(&y, &x, sizeof(To)); return y;
}
"""

#: Integer types narrower than C's int, which C promotes to int before computing.
_NARROW = {d: C_TYPES[d] for d in ("int8", "uint8", "int16", "uint16")}
#: Ops whose C result on a promoted narrow int must be cast back to wrap as the IR's.
_WRAPPING = frozenset({"add", "sub", "mul", "bitand", "bitor", "bitxor", "shl", "shr"})
#: Bit ops on bools, which C computes in int: the result is made a bool again.
_BOOL_BITWISE = frozenset({"bitand", "bitor", "bitxor"})
#: float16 ops computed in float (its NaN-aware min/max, floor and fmod) and rounded back.
_HALF_IN_FLOAT = frozenset({"min", "max", "floordiv", "floormod", "truncdiv", "truncmod"})

#: Signed ints shifted left through their unsigned type (or int's, where C promotes them),
#: where a bit shifted into or past the sign bit is defined: dtype -> (unsigned, back).
_SIGNED_SHL = {"int8": ("unsigned int", "signed char"), "int16": ("unsigned int", "short"),
               "int32": ("unsigned int", "int"), "int64": ("unsigned long long", "long long")}

_INT32_MAX = (1 << 31) - 1
#: A product rounded on its own, which CUDA C never contracts into an add.
_ROUNDED_MUL = {"float32": "__fmul_rn", "float64": "__dmul_rn"}


@dataclass(frozen=True)
class Launch:
    """One kernel launch of a function: its name, grid and block, and which buffers it
    takes, in order: indices into ``func.params`` followed by the function's
    :func:`~.launch.workspace` buffers."""
    kernel: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    args: tuple[int, ...]
    shared_bytes: int = 0  # dynamic shared memory (launch.Kernel.dynamic_shared_bytes)


@dataclass(frozen=True)
class CudaSource:
    """The CUDA C of one function and the launches that run it, in order."""
    name: str
    code: str
    launches: tuple[Launch, ...]


def render(func: PrimFunc, fast_math: bool = False, name: str | None = None) -> CudaSource:
    """CUDA C for lowered ``func`` (see the module docstring)."""
    name = name or func.attr("global_symbol", "main")
    parts, launches = [], []
    noalias = bool(func.attr("tir.noalias", True))
    buffers = list(func.params) + workspace(func)
    rounded = bool(func.attr(ROUNDED_PRODUCTS, False))
    for k in kernels(func, CUDA_LIMITS):
        parts.append(_KernelWriter(k, fast_math, noalias, rounded).write())
        launches.append(Launch(k.name, k.grid, k.block,
                               tuple(next(n for n, p in enumerate(buffers) if p is b) for b in k.params),
                               k.dynamic_shared_bytes))
    fp16 = any(getattr(n, "dtype", None) == "float16" or
               (isinstance(n, (BufferLoad, BufferStore)) and n.buffer.dtype == "float16")
               for n in pre_order_nodes(func.body))
    head = "#include <cuda_fp16.h>\n" if fp16 else ""
    head += wmma.headers(func.body)
    head += wgmma.headers(func.body)
    head += ASYNC_PRELUDE if uses_async(func.body) else ""
    prelude = PRELUDE + (complex_c.PRELUDE if complex_c.uses_complex(buffers, func.body) else "")
    return CudaSource(name, head + prelude + "\n" + "\n".join(parts), tuple(launches))


class _KernelWriter:
    def __init__(self, kernel: Kernel, fast_math: bool, noalias: bool, rounded: bool = False):
        self._ready: dict[tuple[int, bool], str] = {}  # (id of a Binary, wide) -> its text (_chain)
        self.k, self.fast_math, self.noalias = kernel, fast_math, noalias
        #: float products rounded on their own (__fmul_rn: never contracted into an add), as
        #: NumPy's step-by-step complex formulas (:data:`~mlc.passes.tir.lower_complex.ROUNDED_PRODUCTS`)
        self.rounded = rounded
        self.lines: list[str] = []
        self.in_async = False  # inside an async scope: fetches into shared memory are cp.async
        self.pad = "  "  # the indentation of the statement being written
        self.hoist = True  # a Let here is evaluated before the statement: a line of its own (_let)
        self.names: dict[int, str] = {}
        self.taken: set[str] = {kernel.name}
        self.wide: set[int] = set()  # buffers indexed in 64 bits
        self._keep: list = []  # nodes named only while the kernel is written (vector lanes)
        written = {id(n.buffer) for n in pre_order_nodes(kernel.body) if isinstance(n, BufferStore)}
        self.written = written | wmma.writes_of(kernel.body) | wgmma.writes_of(kernel.body)
        for b in kernel.params + kernel.shared + kernel.local:
            self._name(b, b.name)
            if _elements(b) > _INT32_MAX:
                self.wide.add(id(b))

    # ---------------------------------------------------------------- names

    def _name(self, node, hint: str) -> str:
        got = self.names.get(id(node))
        if got is not None:
            return got
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in hint) or "v"
        if base[0].isdigit():
            base = "v_" + base
        out, n = base, 0
        while out in self.taken or out in _RESERVED:
            n += 1
            out = f"{base}_{n}"
        self.taken.add(out)
        self.names[id(node)] = out
        return out

    # ---------------------------------------------------------------- kernel

    def write(self) -> str:
        k = self.k
        params = []
        for b in k.params:
            const = "" if id(b) in self.written else "const "
            restrict = " __restrict__" if self.noalias else ""
            params.append(f"{const}{ctype(b.dtype)}*{restrict} {self.names[id(b)]}")
        self.emit(f'extern "C" __global__ void __launch_bounds__({k.threads}) {k.name}({", ".join(params)}) {{')
        vectors = copied_buffers(k.body) | async_targets(k.body)
        wgmma_operands = wgmma.operands_of(k.body)
        if k.dynamic_shared_bytes:  # over the static limit: one dynamic allocation, carved up
            # wgmma's operands 1024-byte aligned: the period of the 128-byte swizzle
            base = wgmma.SHARED_ALIGN_BYTES if wgmma_operands else 128
            self.emit(f"  extern __shared__ __align__({base}) unsigned char mlc_dynamic_shared[];")
        for b, offset in zip(k.shared, k.shared_offsets) if k.dynamic_shared_bytes else ():
            c = ctype(b.dtype)
            self.emit(f"  {c}* {self.names[id(b)]} = ({c}*)(mlc_dynamic_shared + {offset});")
        for b in k.shared if not k.dynamic_shared_bytes else ():
            # 16-byte aligned where a vector copy (vector.py) moves up to 16 bytes at a time
            align = "__align__(16) " if id(b) in vectors else ""
            align = "__align__(1024) " if id(b) in wgmma_operands else align
            self.emit(f"  __shared__ {align}{ctype(b.dtype)} {self.names[id(b)]}[{_elements(b)}];")
        for b in k.local:
            if b.scope in FRAGMENT_SCOPES:
                self.emit("  " + wmma.fragment_declaration(b, self.names[id(b)], _elements(b), k.body))
            else:
                self.emit(f"  {ctype(b.dtype)} {self.names[id(b)]}[{_elements(b)}];")
        self.stmt(k.body, 1)
        self.emit("}")
        return "\n".join(self.lines) + "\n"

    def emit(self, line: str) -> None:
        self.lines.append(line)

    def stmt(self, s, depth: int) -> None:
        pad = self.pad = "  " * depth
        if isinstance(s, SeqStmt):
            for x in s.seq:
                self.stmt(x, depth)
        elif isinstance(s, For):
            self._for(s, depth)
        elif isinstance(s, LetStmt):  # a value a run of stores shares: one const line
            while type(s) is LetStmt:
                self.names.pop(id(s.var), None)
                value = self.expr(s.value)
                self.emit(f"{pad}const {ctype(s.var.dtype)} {self._name(s.var, s.var.name)} = {value};")
                s = s.body
            self.stmt(s, depth)
        elif isinstance(s, While):
            self.emit(f"{pad}while ({self._in_place(s.condition)}) {{")  # evaluated at every iteration
            self.stmt(s.body, depth + 1)
            self.emit(f"{pad}}}")
        elif isinstance(s, IfThenElse):
            self.emit(f"{pad}if ({self.expr(s.condition)}) {{")
            self.stmt(s.then_case, depth + 1)
            if s.else_case is not None:
                self.emit(f"{pad}}} else {{")
                self.stmt(s.else_case, depth + 1)
            self.emit(f"{pad}}}")
        elif isinstance(s, BufferStore) and self.in_async and render_async_store(self, s, pad):
            pass
        elif isinstance(s, BufferStore) and is_vector_store(s):
            render_vector_store(self, s, pad)
        elif isinstance(s, BufferStore):
            self.emit(f"{pad}{self._access(s.buffer, s.indices)} = {self.expr(s.value)};")
        elif isinstance(s, Allocate):
            self.stmt(s.body, depth)  # declared at the kernel's top
        elif isinstance(s, Evaluate):
            if isinstance(s.value, Call) and s.value.op == SYNC_THREADS:
                self.emit(f"{pad}__syncthreads();")
            elif isinstance(s.value, CallExtern) and s.value.name in PREFETCHES:
                pass  # a CPU cache hint
            elif isinstance(s.value, CallExtern):
                self.emit(f"{pad}{self._extern(s.value)};")
            elif render_async_call(s.value) is not None:
                self.emit(f"{pad}{render_async_call(s.value)};")
            elif not isinstance(s.value, (IntImm, FloatImm)):
                self.emit(f"{pad}(void)({self.expr(s.value)});")
        else:
            raise CompileError(f"cuda codegen: cannot render {type(s).__name__} statements")

    def _for(self, loop: For, depth: int) -> None:
        pad = "  " * depth
        var = self._name(loop.loop_var, loop.loop_var.name)
        ty = ctype(loop.loop_var.dtype)
        if is_async_scope(loop):  # a unit loop: its body, its fetches asynchronous
            self.emit(f"{pad}{{  // cp.async")
            outer, self.in_async = self.in_async, True
            try:
                self.stmt(loop.body, depth + 1)
            finally:
                self.in_async = outer
            self.emit(f"{pad}}}")
            return
        if loop.kind == "thread_binding":
            self.emit(f"{pad}{{")
            self.emit(f"{pad}  {ty} {var} = ({ty}){loop.thread_binding};")
            self.stmt(loop.body, depth + 1)
            self.emit(f"{pad}}}")
            return
        if loop.kind == "parallel":
            raise CompileError(f"cuda codegen: loop {loop.loop_var.name} is parallel, which means CPU "
                               "threads; on the GPU bind it to blockIdx/threadIdx instead")
        if loop.kind == "unrolled":
            self.emit(f"{pad}#pragma unroll")
        lo, extent = self.expr(loop.min), self.expr(loop.extent)
        stop = extent if isinstance(loop.min, IntImm) and loop.min.value == 0 else f"{lo} + {extent}"
        self.emit(f"{pad}for ({ty} {var} = {lo}; {var} < {stop}; ++{var}) {{")
        self.stmt(loop.body, depth + 1)
        self.emit(f"{pad}}}")

    def _extern(self, e: CallExtern) -> str:
        """A call of one of the backend's external functions (:mod:`.wmma`); buffers are flat here."""
        def index(load: BufferLoad):
            if len(load.indices) != 1:
                raise CompileError(f"cuda codegen: {e.name}: buffer {load.buffer.name} is not flattened")
            return load.indices[0]
        if wgmma.is_wgmma_call(e):
            return wgmma.render_call(e, lambda load: f"&{self.names[id(load.buffer)]}[{self.expr(index(load))}]",
                                     self.expr)
        return wmma.render_call(e, lambda b: self.names[id(b)], index, self.expr)

    def _access(self, buffer: Buffer, indices) -> str:
        name = self.names.get(id(buffer))
        if name is None:
            raise CompileError(f"cuda codegen: buffer {buffer.name} is neither a parameter nor "
                               "allocated in the kernel")
        flat = None
        wide = id(buffer) in self.wide
        for i, extent in zip(indices, buffer.shape):
            term = self.expr(i, wide)
            flat = term if flat is None else f"({flat}) * {self.expr(extent, wide)} + {term}"
        return f"{name}[{flat if flat is not None else 0}]"

    # ---------------------------------------------------------------- expressions

    def expr(self, e, wide: bool = False) -> str:
        if isinstance(e, Var):
            name = self.names.get(id(e))
            if name is None:
                raise CompileError(f"cuda codegen: variable {e.name} is used outside the loop that binds it")
            return f"((long long){name})" if wide and e.dtype == "int32" else name
        if isinstance(e, IntImm):
            return int_literal(e.value, "int64" if wide and e.dtype == "int32" else e.dtype)
        if isinstance(e, FloatImm):
            return float_literal(e.value, e.dtype)
        if isinstance(e, Binary):
            ready = self._ready.pop((id(e), wide), None)
            if ready is not None:
                return ready
            return self._chain(e, wide) if type(e.a) is Binary or type(e.b) is Binary else self._binary(e, wide)
        if isinstance(e, Not):
            return f"(!{self.expr(e.a, wide)})"
        if isinstance(e, Select):
            return (f"({self.expr(e.cond)} ? {self._in_place(e.true_value, wide)} : "
                    f"{self._in_place(e.false_value, wide)})")
        if isinstance(e, Let):
            return self._let(e, wide)
        if isinstance(e, Cast):
            target = "int64" if wide and e.dtype == "int32" else e.dtype
            if dt.is_float(e.value.dtype) and dt.is_int(e.dtype) and e.dtype != "bool":
                return f"(({ctype(target)}){float_to_int(self.expr(e.value), e.value.dtype, e.dtype)})"
            return f"(({ctype(target)})({self.expr(e.value)}))"
        if isinstance(e, BufferLoad):
            return self._access(e.buffer, e.indices)
        if isinstance(e, Call):
            if e.op == SHFL_DOWN:
                value, offset, width = shfl_args(e)
                if dt.is_complex(value.dtype):
                    return complex_c.shfl_down(self.expr(value), offset, width)
                if value.dtype == "bool":  # (no bool overload: shuffled as an int)
                    return f"((bool)__shfl_down_sync(__activemask(), (int)({self.expr(value)}), {offset}, {width}))"
                return f"__shfl_down_sync(__activemask(), {self.expr(value)}, {offset}, {width})"
            return self._call(e)
        raise CompileError(f"cuda codegen: cannot render {type(e).__name__} expressions")

    def _in_place(self, e, wide: bool = False) -> str:
        """``e`` where it is evaluated only sometimes (a branch of ``?:``, the right side of
        ``&&``/``||``) or more than once (a ``while`` condition): its Lets stay in it."""
        outer, self.hoist = self.hoist, False
        try:
            return self.expr(e, wide)
        finally:
            self.hoist = outer

    def _let(self, e: Let, wide: bool) -> str:
        """A ``const T v = value;`` line before the statement, where the statement evaluates
        the Let every time (:attr:`hoist`); else an immediately called lambda. The variable
        gets a name of its own at each rendering (a Let shared by two statements is declared
        in each)."""
        value = self.expr(e.value)
        self.names.pop(id(e.var), None)
        name = self._name(e.var, e.var.name)
        line = f"const {ctype(e.var.dtype)} {name} = {value};"
        if self.hoist:
            self.emit(f"{self.pad}{line}")
            return self.expr(e.body, wide)
        return f"([&]() {{ {line} return {self.expr(e.body, wide)}; }}())"

    def _chain(self, e: Binary, wide: bool) -> str:
        """A Binary over a chain of Binary nodes (:func:`~mlc.ir.functor.binary_chain`, as
        deep as the user wrote it), written from the bottom up on a loop instead of a
        recursion per level: each level's operand on the chain is ready when :meth:`_binary`
        asks for it."""
        chain = binary_chain(e, always_evaluated)  # (the right side of && and ||: _in_place)
        text = self._binary(chain[-1], wide)
        for node, below in zip(reversed(chain[:-1]), reversed(chain[1:])):
            self._ready[(id(below), wide)] = text
            text = self._binary(node, wide)
            self._ready.pop((id(below), wide), None)
        return text

    def _binary(self, e: Binary, wide: bool) -> str:
        op, dtype = e.op, e.a.dtype
        if dtype == "float16" and op in _HALF_IN_FLOAT:  # float's NaN-aware helpers and libm
            inner = Binary(op, cast(e.a, "float32"), cast(e.b, "float32"), "float32")
            return f"((half)({self._binary(inner, wide)}))"
        a = self.expr(e.a, wide)
        b = self._in_place(e.b, wide) if op in ("and", "or") else self.expr(e.b, wide)
        is_float = dtype.startswith("float")
        narrow = _NARROW.get(dtype)  # C computes these in int: the result wraps back, as the IR's does
        if op == "mul" and self.rounded and dtype in _ROUNDED_MUL:
            return f"{_ROUNDED_MUL[dtype]}({a}, {b})"
        if op == "shl" and dtype in _SIGNED_SHL:  # C's signed << may not overflow; the IR's wraps
            unsigned, back = _SIGNED_SHL[dtype]
            return f"(({back})(({unsigned})({a}) << {b}))"
        if op in _BINARY_C:
            text = f"({a} {_BINARY_C[op]} {b})"
            if dtype == "bool" and op in _BOOL_BITWISE:  # C computes bools' bit ops in int
                return f"((bool){text})"
            return f"(({narrow}){text})" if narrow and op in _WRAPPING else text
        if narrow:  # the helpers are templates of one type: both operands of it
            a, b = f"(({narrow})({a}))", f"(({narrow})({b}))"
        if op == "div":
            return f"({a} / {b})"
        if op in ("min", "max"):
            return f"mlc_{op}({a}, {b})"
        if is_float:
            f = "" if e.a.dtype == "float64" else "f"
            if op == "floordiv":
                return f"floor{f}({a} / {b})"
            if op == "floormod":
                return f"({a} - floor{f}({a} / {b}) * {b})"
            if op == "truncdiv":
                return f"trunc{f}({a} / {b})"
            if op == "truncmod":
                return f"fmod{f}({a}, {b})"
        if op in ("floordiv", "floormod", "truncdiv", "truncmod"):
            return f"mlc_{op}({a}, {b})"
        raise CompileError(f"cuda codegen: unknown binary op {op!r}")

    def _call(self, e: Call) -> str:
        op = e.op
        if op == REINTERPRET:
            return f"mlc_bitcast<{ctype(e.dtype)}>({self.expr(e.args[0])})"
        if op not in MATH_CALLS:
            raise CompileError(f"cuda codegen: cannot render a call of {op!r}: it is not a math call of the op "
                               "table (mlc.ir.ops.MATH_CALLS)")
        dtype = e.args[0].dtype
        if dtype == "float16":  # computed in float32, as the other backends do
            inner = Call(op, tuple(cast(a, "float32") if a.dtype == "float16" else a for a in e.args),
                         MATH_CALLS[op].result_dtype("float32"))
            text = self._call(inner)
            return f"((half)({text}))" if e.dtype == "float16" else text
        lowering = intrinsic_lowering(BACKEND, op, dtype)  # the registry's CompileError when there is none
        text = lowering([self.expr(a) for a in e.args], dtype, self.fast_math)
        # CUDA's isnan, isinf, isfinite and signbit return int: a bool of the IR stays a bool
        # (mlc_min(bool, int) has no overload)
        return f"((bool)({text}))" if e.dtype == "bool" and text not in ("true", "false") else text


_RESERVED = frozenset({
    "int", "float", "double", "char", "short", "long", "bool", "void", "if", "else", "for", "while",
    "do", "return", "break", "continue", "const", "half", "signed", "unsigned", "threadIdx", "blockIdx",
    "blockDim", "gridDim", "warpSize", "min", "max", "abs", "exp", "log", "sqrt", "default", "case",
    "switch", "struct", "union", "class", "template", "typename", "new", "delete", "this", "auto",
    "register", "static", "extern", "volatile", "inline", "sizeof", "true", "false", "namespace",
    "using", "operator", "private", "public", "protected", "virtual", "friend", "goto", "enum",
})


def _elements(b: Buffer) -> int:
    n = 1
    for e in b.shape:
        if not isinstance(e, IntImm):
            raise CompileError(f"cuda codegen: buffer {b.name} has a symbolic extent {e!r}")
        n *= e.value
    return n
