"""matmul, dot, einsum against NumPy: 1-D/2-D/batched shapes with broadcasting, every dtype."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc.testing as mt
from mlc import DTypeError, ShapeError
from mlc.ops import TensorType, get_op

from ._harness import ALL, FLOATS, arrays, check_op, numpy_call


def _tol(a, b, out_dtype, k):
    """k products summed in another order: k ulps of the largest |a||b| sum."""
    if np.dtype(out_dtype).kind != "f":
        return 0.0
    eps = np.finfo(out_dtype).eps
    scale = float(np.max(np.abs(a.astype("float64")), initial=0) * np.max(np.abs(b.astype("float64")), initial=0))
    return 2 * max(k, 1) * eps * scale * max(k, 1)


def _values(dtype):
    # bounded floats keep sums finite in float16; integers use their full range (products wrap)
    return dict(special=False, bound=8.0) if dtype in FLOATS else {}


@st.composite
def matmul_shapes(draw):
    """NumPy matmul operand shapes: 1-D, 2-D, or batched with broadcasting batch dims."""
    n, k, m = (draw(st.integers(1, 5)) for _ in range(3))
    # now and then an empty dimension: no rows, no columns, or nothing to sum
    n, k, m = (draw(st.sampled_from([d, 0])) if draw(st.integers(0, 9)) == 0 else d for d in (n, k, m))
    batch = draw(mt.broadcastable(2, max_dims=2, max_side=3))
    a = (k,) if draw(st.integers(0, 3)) == 0 else batch[0] + (n, k)
    b = (k,) if draw(st.integers(0, 3)) == 0 else batch[1] + (k, m)
    return a, b


@settings(max_examples=40)
@given(data=st.data(), dtypes=st.tuples(st.sampled_from(ALL), st.sampled_from(ALL)), shapes=matmul_shapes())
def test_matmul(data, dtypes, shapes):
    a = data.draw(arrays(dtypes[0], shapes[0], **_values(dtypes[0])))
    b = data.draw(arrays(dtypes[1], shapes[1], **_values(dtypes[1])))
    expected = numpy_call(np.matmul, a, b)
    check_op("matmul", [a, b], expected, atol=_tol(a, b, expected.dtype, shapes[0][-1]))


@settings(max_examples=30)
@given(data=st.data(), dtypes=st.tuples(st.sampled_from(ALL), st.sampled_from(ALL)),
       nd=st.tuples(st.integers(0, 3), st.integers(0, 3)), k=st.integers(1, 4))
def test_dot(data, dtypes, nd, k):
    side = st.integers(1, 3)
    a_shape = () if nd[0] == 0 else tuple(data.draw(side) for _ in range(nd[0] - 1)) + (k,)
    if nd[1] == 0:
        b_shape = ()
    elif nd[1] == 1:
        b_shape = (k,)
    else:
        b_shape = tuple(data.draw(side) for _ in range(nd[1] - 2)) + (k, data.draw(side))
    a = data.draw(arrays(dtypes[0], a_shape, **_values(dtypes[0])))
    b = data.draw(arrays(dtypes[1], b_shape, **_values(dtypes[1])))
    expected = numpy_call(np.dot, a, b)
    check_op("dot", [a, b], expected, atol=_tol(a, b, expected.dtype, k))


EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("ij->ji", [(3, 5)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(3, 3)]),
    ("ij->", [(3, 4)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bij,bjk", [(2, 3, 4), (2, 4, 2)]),
    ("ij,ij->i", [(3, 0), (3, 0)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUM, ids=[e[0] for e in EINSUM])
@settings(max_examples=6)
@given(data=st.data(), dtype=st.sampled_from(ALL))
def test_einsum(spec, shapes, data, dtype):
    operands = [data.draw(arrays(dtype, s, **_values(dtype))) for s in shapes]
    expected = numpy_call(np.einsum, spec, *operands)
    atol = 0.0
    if expected.dtype.kind == "f":  # terms summed in another order: a few ulps per term
        terms = max(int(np.prod([max(s, default=1) for s in shapes])), 1)
        scale = np.prod([float(np.max(np.abs(o.astype("float64")), initial=0)) for o in operands])
        atol = 4 * terms * np.finfo(expected.dtype).eps * scale
    check_op("einsum", operands, expected, atol=atol, subscripts=spec)


@pytest.mark.parametrize("shapes", [((1,), (1, 0)), ((2, 3), (3, 0)), ((3, 64), (64, 0)), ((0, 64), (64, 64)),
                                    ((5, 0), (0,)), ((0,), (0,)), ((2, 0, 4), (4, 5)), ((512,), (512, 0))],
                         ids=str)
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_matmul_with_an_empty_dimension(shapes, dtype):
    """Empty outputs (no rows or no columns) build and run on every target: the default rules
    leave their zero-trip loops alone (a matmul of 0 columns once divided by its column tile)."""
    a, b = np.ones(shapes[0], dtype), np.arange(np.prod(shapes[1]), dtype=dtype).reshape(shapes[1])
    check_op("matmul", [a, b], numpy_call(np.matmul, a, b))


def test_matmul_shape_errors():
    mm = get_op("matmul")
    with pytest.raises(ShapeError, match="contracted dimensions differ"):
        mm.infer(TensorType((3, 4), "float32"), TensorType((5, 6), "float32"))
    with pytest.raises(ShapeError, match="at least 1 dimension"):
        mm.infer(TensorType((), "float32"), TensorType((3,), "float32"))
    with pytest.raises(ShapeError, match="cannot be broadcast"):
        mm.infer(TensorType((2, 3, 4), "float32"), TensorType((5, 4, 6), "float32"))
    with pytest.raises(DTypeError):
        mm.infer(TensorType((3, 4), "float32"), TensorType((4, 6), "datetime64"))


def test_dot_and_einsum_errors():
    with pytest.raises(ShapeError, match="not aligned"):
        get_op("dot").infer(TensorType((3, 4), "float32"), TensorType((5, 6), "float32"))
    es = get_op("einsum")
    with pytest.raises(ShapeError, match="index 'j' has size 4 in one place and 5"):
        es.infer(TensorType((3, 4), "float32"), TensorType((5, 6), "float32"), subscripts="ij,jk->ik")
    with pytest.raises(ShapeError, match="names 2 operand"):
        es.infer(TensorType((3, 4), "float32"), subscripts="ij,jk->ik")
    with pytest.raises(ShapeError, match="does not appear"):
        es.infer(TensorType((3, 4), "float32"), subscripts="ij->iz")
    with pytest.raises(ShapeError, match="ellipsis"):
        es.infer(TensorType((3, 4), "float32"), subscripts="...j->j")
    with pytest.raises(ShapeError, match="has 2 letter"):
        es.infer(TensorType((3, 4, 5), "float32"), subscripts="ij->i")


def test_matmul_lowering_is_one_reduction_stage():
    from mlc import te
    a, b = te.placeholder((4, 3), "float32", "a"), te.placeholder((3, 5), "float32", "b")
    c = get_op("matmul").lower(a, b)
    assert [iv.dom.extent.value for iv in c.op.reduce_axis] == [3]
    assert {t.name for t in c.op.inputs} == {"a", "b"}
