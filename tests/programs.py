"""Programs several test modules share."""
import mlc
from mlc import te


def mm_relu_func(n=128, m=None, k=None, name="Y"):
    """The MLC course's mm_relu as a PrimFunc: Y = A @ B (n x k times k x m), C = relu(Y)."""
    m, k = m or n, k or n
    A = te.placeholder((n, k), "float32", name="A")
    B = te.placeholder((k, m), "float32", name="B")
    r = te.reduce_axis((0, k), name="k")
    Y = te.compute((n, m), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name=name)
    C = te.compute((n, m), lambda i, j: te.max(Y[i, j], 0), name="C")
    return te.create_prim_func([A, B, C])


def mm_relu_module(n=128, m=None, k=None):
    """The course's IRModule {"mm_relu": mm_relu_func(...)}."""
    return mlc.IRModule({"mm_relu": mm_relu_func(n, m, k)})


def double_plus_one_in_place(n):
    """``A[i] = A[i] * 2 + 1`` over ``n`` floats, a block that reads what it writes."""
    return mlc.parse(f'''
@T.prim_func
def main(A: T.Buffer(({n},), "float32")):
    T.func_attr({{"global_symbol": "main", "tir.noalias": True}})
    for i in range({n}):
        with T.block("B"):
            vi = T.axis.spatial({n}, i)
            T.reads(A[vi])
            T.writes(A[vi])
            A[vi] = A[vi] * T.float32(2) + T.float32(1)
''')
