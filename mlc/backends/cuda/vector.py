"""CUDA C of vector IR (``T.Ramp``/``T.Broadcast`` indices, ``float32x4`` values), as
:func:`mlc.passes.tir.vectorize_loops` makes it for the GPU (4 lanes at most).

A vector store becomes one block: each contiguous load of a global buffer whose
first element is a multiple of the lane count (so 16-byte aligned: CuPy and
the workspace allocate at 256 bytes) is one ``float4`` (``float2``, ``int4``,
...) load into a register; the value is computed lane by lane (``.x``, ``.y``,
...); an aligned contiguous store is one vector store, any other index a store
per lane::

    B[T.Ramp(i * 4, 1, 4)] = A[T.Ramp(i * 4, 1, 4)] * T.Broadcast(2.0f, 4)
    ->
    {
      float4 A_v = *(const float4*)(A + (i * 4));
      float4 B_v;
      B_v.x = (A_v.x * 2.0f);  ...  B_v.w = (A_v.w * 2.0f);
      *(float4*)(B + (i * 4)) = B_v;
    }

A vector of another element type (``float16 x 4``) that is only copied between
global and shared buffers moves as raw bytes (:data:`COPY_TYPES`)::

    A_shared[T.Ramp(r * 40 + c * 4, 1, 4)] = A[T.Ramp(r * 256 + c * 4, 1, 4)]
    ->
    *(uint2*)(A_shared + (r * 40 + c * 4)) = *(const uint2*)(A + (r * 256 + c * 4));
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.analysis import lane_of
from ...ir.arith import expr_key
from ...ir.expr import BufferLoad, IntImm, Ramp, Var, const, make_binary
from ...ir.functor import pre_order_nodes
from ...ir.tir import BufferStore
from ...passes.tir.simplify import simplify_expr

__all__ = ["VECTOR_TYPES", "COPY_TYPES", "is_vector_store", "aligned", "render_vector_store", "copied_buffers", "raw_copy"]

#: (element dtype, lanes) -> the CUDA vector type loaded and stored in one access.
VECTOR_TYPES = {("float32", 2): "float2", ("float32", 4): "float4", ("int32", 2): "int2", ("int32", 4): "int4",
                ("float64", 2): "double2", ("int64", 2): "longlong2"}
_FIELDS = "xyzw"


def is_vector_store(s: BufferStore) -> bool:
    return len(s.indices) == 1 and dt.is_vector(s.indices[0].dtype)


def aligned(index, lanes: int) -> bool:
    """Whether vector ``index`` is contiguous and starts at a multiple of ``lanes``."""
    if not (isinstance(index, Ramp) and index.stride == 1 and index.lanes == lanes):
        return False
    rest = simplify_expr(make_binary("floormod", index.base, const(lanes, index.base.dtype)))
    return isinstance(rest, IntImm) and rest.value == 0


def _vector_type(buffer, lanes: int) -> str | None:
    return VECTOR_TYPES.get((buffer.dtype, lanes))


#: bytes -> the CUDA type that moves them in one access: a vector copy of any dtype
#: (``float16 x 4``: 8 bytes, one ``uint2``)
COPY_TYPES = {4: "unsigned", 8: "uint2", 16: "uint4"}


def raw_copy(s: BufferStore) -> tuple[BufferLoad, str] | None:
    """(the source load, the :data:`COPY_TYPES` type) where vector store ``s`` copies an
    aligned contiguous vector of a type without a vector type of its own (``float16 x 8``)
    from one buffer to another; None otherwise."""
    src, lanes = s.value, dt.lanes(s.indices[0].dtype)
    if not (isinstance(src, BufferLoad) and len(src.indices) == 1 and src.buffer.dtype == s.buffer.dtype) \
            or _vector_type(s.buffer, lanes) is not None:
        return None
    ctype = COPY_TYPES.get(lanes * dt.bits(s.buffer.dtype) // 8)
    if ctype is None or not aligned(src.indices[0], lanes) or not aligned(s.indices[0], lanes):
        return None
    return src, ctype


def copied_buffers(body) -> set[int]:
    """ids of the buffers that vector copies under ``body`` may move as raw bytes (a shared
    one is declared 16-byte aligned for them)."""
    return {id(b) for n in pre_order_nodes(body) if isinstance(n, BufferStore) and is_vector_store(n)
            and raw_copy(n) is not None for b in (n.buffer, n.value.buffer)}


def _copy(writer, s: BufferStore, pad: str) -> bool:
    """Emit ``s`` as one load and one store of :data:`COPY_TYPES` where it is a
    :func:`raw_copy` between global (parameter) and shared buffers (a cooperative fetch into
    shared memory); False otherwise."""
    found = raw_copy(s)
    if found is None:
        return False
    src, ctype = found
    params = {id(b) for b in writer.k.params}
    if not all(id(b) in params or b.scope == "shared" for b in (src.buffer, s.buffer)):
        return False
    to = writer.expr(s.indices[0].base, id(s.buffer) in writer.wide)
    at = writer.expr(src.indices[0].base, id(src.buffer) in writer.wide)
    writer.emit(f"{pad}*({ctype}*)({writer.names[id(s.buffer)]} + {to}) = "
                f"*(const {ctype}*)({writer.names[id(src.buffer)]} + {at});")
    return True


def render_vector_store(writer, s: BufferStore, pad: str) -> None:
    """Emit vector store ``s`` through ``writer`` (the kernel writer of :mod:`.codegen`)."""
    lanes = dt.lanes(s.indices[0].dtype)
    if _copy(writer, s, pad):
        return
    params = {id(b) for b in writer.k.params}
    writer.emit(f"{pad}{{")
    hoisted: dict[int, list[Var]] = {}
    by_key: dict[tuple, list[Var]] = {}  # one register per distinct vector load
    for node in pre_order_nodes(s.value):
        if not isinstance(node, BufferLoad) or id(node) in hoisted or len(node.indices) != 1:
            continue
        key = (id(node.buffer), expr_key(node.indices))
        if key in by_key:
            hoisted[id(node)] = by_key[key]
            continue
        vtype = _vector_type(node.buffer, lanes)
        if vtype is None or id(node.buffer) not in params or not aligned(node.indices[0], lanes):
            continue
        name = writer._name(node, f"{node.buffer.name}_v")
        base = writer.expr(node.indices[0].base, id(node.buffer) in writer.wide)
        writer.emit(f"{pad}  {vtype} {name} = *(const {vtype}*)({writer.names[id(node.buffer)]} + {base});")
        hoisted[id(node)] = by_key[key] = [_field(writer, name, k, node.buffer.dtype) for k in range(lanes)]
    values = [writer.expr(lane_of(s.value, k, hoisted)) for k in range(lanes)]
    vtype = _vector_type(s.buffer, lanes)
    if vtype is not None and id(s.buffer) in params and aligned(s.indices[0], lanes):
        out = writer._name(s, f"{s.buffer.name}_v")
        writer.emit(f"{pad}  {vtype} {out};")
        for k, v in enumerate(values):
            writer.emit(f"{pad}  {out}.{_FIELDS[k]} = {v};")
        base = writer.expr(s.indices[0].base, id(s.buffer) in writer.wide)
        writer.emit(f"{pad}  *({vtype}*)({writer.names[id(s.buffer)]} + {base}) = {out};")
    else:
        for k, v in enumerate(values):
            writer.emit(f"{pad}  {writer._access(s.buffer, (lane_of(s.indices[0], k, hoisted),))} = {v};")
    writer.emit(f"{pad}}}")


def _field(writer, name: str, k: int, dtype: str) -> Var:
    """A variable rendered as lane ``k`` of register ``name``."""
    var = Var(f"{name}_{_FIELDS[k]}", dtype)
    writer.names[id(var)] = f"{name}.{_FIELDS[k]}"
    writer._keep.append(var)  # ids stay valid while the kernel is written
    return var
