"""Expression building: NumPy 2 promotion, NEP 50 scalars, folding, typed errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from mlc import DTypeError, IRError
from mlc.ir import dtype as dt
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import (Binary, Call, Cast, FloatImm, IntImm, Not, Select, Var, call, cast, const,
                         select)
from mlc.ir import expr as E

DTYPES = [d for d in dt.SUPPORTED]


@given(st.sampled_from(DTYPES), st.sampled_from(DTYPES))
def test_typed_operands_promote_like_numpy(a, b):
    x, y = Var("x", a), Var("y", b)
    if "bool" in (a, b) and a == b:
        return  # bool + bool is not arithmetic in the IR
    expected = np.promote_types(a, b).name
    if expected == "bool":
        return
    assert (x + y).dtype == expected
    assert (x == y).dtype == "bool"
    if dt.is_complex(expected):  # complex numbers are not ordered (the Array API)
        with pytest.raises(DTypeError, match="not defined for complex"):
            x < y
    else:
        assert (x < y).dtype == "bool"


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "float16", "float32", "float64"])
def test_python_scalars_take_the_partner_dtype(dtype):
    x = Var("x", dtype)
    assert (x + 1).dtype == dtype
    assert (2 * x).dtype == dtype
    expected = dtype if dt.is_float(dtype) else "float64"
    assert (x + 1.5).dtype == expected  # NEP 50: a float next to ints is float64
    assert (x + 1.5).dtype == (np.zeros(1, dtype) + 1.5).dtype.name


def test_out_of_range_python_int_is_an_error_like_numpy():
    with pytest.raises(DTypeError, match="out of bounds for int8"):
        Var("x", "int8") + 300


def test_true_division_of_ints_is_float64_like_numpy():
    e = Var("i", "int32") / 2
    assert e.dtype == "float64" == (np.arange(3, dtype="int32") / 2).dtype.name


def test_integer_constants_fold_and_identities_simplify():
    i = Var("i")
    assert isinstance(const(3) * 4 + 1, IntImm) and (const(3) * 4 + 1).value == 13
    assert i + 0 is i and i * 1 is i and 0 + i is i
    assert isinstance(i * 0, IntImm)
    assert (const(-7) // 2).value == -4 and (const(-7) % 2).value == 1
    assert E.truncdiv(const(-7), 2).value == -3 and E.truncmod(const(-7), 2).value == -1


def test_float_expressions_do_not_fold_identities():
    x = Var("x", "float32")
    assert isinstance(x * 1.0, Binary)  # x * 1.0 is not x for NaN payloads / -0.0


def test_equality_builds_ir_but_is_truthy_by_identity():
    i, j = Var("i"), Var("j")
    e = i == j
    assert isinstance(e, Binary) and e.op == "eq" and e.dtype == "bool"
    assert bool(i == i) and not bool(i == j)
    assert i in [j, i] and j not in [i]


def test_symbolic_truth_value_is_a_clear_error():
    with pytest.raises(IRError, match="if_then_else"):
        bool(Var("i") < 3)


def test_select_and_logic():
    i = Var("i")
    s = select(i > 0, i, -i)
    assert isinstance(s, Select) and s.dtype == "int32"
    assert isinstance(E.logical_not(i > 0), Not)
    assert ((i > 0) & (i < 5)).op == "and"
    assert (i & 3).op == "bitand"
    with pytest.raises(DTypeError):
        select(i, 1, 2)


def test_math_calls_check_dtypes():
    x = Var("x", "float32")
    assert isinstance(E.exp(x), Call) and E.exp(x).dtype == "float32"
    assert E.isnan(x).dtype == "bool"
    with pytest.raises(DTypeError, match="cast it first"):
        E.exp(Var("i"))
    with pytest.raises(IRError, match="takes 1 argument"):
        call("exp", x, x)
    assert E.abs(Var("u", "uint8")).dtype == "uint8"


def test_cast_folds_constants_and_wraps_like_astype():
    assert isinstance(cast(Var("i"), "float32"), Cast)
    assert cast(const(300), "uint8").value == np.array(300).astype("uint8")
    assert cast(const(2.7, "float32"), "int32").value == 2
    assert isinstance(cast(const(1.5, "float64"), "float32"), FloatImm)


def test_operator_errors_name_the_problem():
    with pytest.raises(DTypeError, match="bool"):
        Var("b", "bool") + Var("c", "bool")
    with pytest.raises(IRError, match="cannot use"):
        Var("i") + "a"


def test_buffer_indexing_checks_rank_and_index_dtype():
    A = decl_buffer((4, 4), "float32", "A")
    assert A[1, 2].dtype == "float32"
    with pytest.raises(Exception, match="2 dimension"):
        A[1]
    with pytest.raises(IRError, match="integer"):
        A[Var("x", "float32"), 0]
