"""Parse errors are ParseErrors naming the line and column, with the source line and a caret."""
import pytest

import mlc
from mlc import ParseError
from mlc.script import tir as T

HEADER = '@T.prim_func\ndef f(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):\n'


def parse_error(body: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        mlc.parse(HEADER + body)
    return info.value


@pytest.mark.parametrize("body, line, col, words", [
    ("    for i in range(8):\n        B[i] = C[i]\n", 4, 16, "name 'C' is not defined"),
    ("    for i in range(8):\n        B[i] = A[i] +\n", 4, 22, "invalid Python syntax"),
    ("    for i in T.grid(8):\n        B[i] = T.exp2(A[i])\n", 4, 16, "T.exp2 is not a TensorIR expression"),
    ("    for i in range(8):\n        B[i, 0] = A[i]\n", 4, 9, "1 dimension(s), indexed with 2"),
    ("    for i in range(8):\n        B[i] = T.Cast(\"int32\", A[i])\n", 4, 9, "storing a int32 value into float32"),
    ("    for i in range(8):\n        with T.block(\"B\"):\n            vi, vj = T.axis.remap(\"SS\", [i, i + 1])\n",
     5, 45, "binds loop variables only"),
    ("    for i in range(8):\n        B[i] = A[i] + T.float32(i / 2)\n", 4, 33, "true division"),
    ("    T.reads(A[0])\n", 3, 5, "T.reads belongs inside a T.block"),
    ("    while True:\n        pass\n    else:\n        pass\n", 3, 5, "While statements are not supported"),
    ("    for i in T.grid(8, 8):\n        B[i] = A[i]\n", 3, 9, "2 loop(s)"),
    ("    for i in range(8):\n        B[i] = A[i] + T.Cast(\"float32\", T.int8(300))\n", 4, 41,
     "T.int8(300) is out of range: int8 holds -128..127"),
    ("    C = T.alloc_buffer((4, -1), \"float32\")\n", 3, 28, "buffer C: negative extent -1"),
])
def test_errors_point_at_line_and_column(body, line, col, words):
    err = parse_error(body)
    assert (err.lineno, err.col) == (line, col), str(err)
    assert f"<string>:{line}:{col}:" in str(err)
    assert words in str(err)
    source_line = (HEADER + body).splitlines()[line - 1]
    assert source_line in str(err)
    assert str(err).endswith("\n    " + " " * (col - 1) + "^")


def test_a_float_divided_by_an_int_literal_is_a_float_division():
    """A bare 2 adopts A's float32, as in NumPy (NEP 50)."""
    func = mlc.parse(HEADER + "    for i in range(8):\n        B[i] = A[i] / 2\n")
    assert isinstance(func, mlc.PrimFunc)


def test_errors_in_decorated_functions_name_the_file_and_its_line():
    with pytest.raises(ParseError) as info:
        @T.prim_func
        def bad(A: T.Buffer((8,), "float32")):
            for i in range(8):
                A[i] = undefined_name  # noqa: F821

    err = info.value
    assert err.filename == __file__
    assert err.lineno == bad_line() and err.col == 24
    assert "undefined_name" in err.source_line


def bad_line() -> int:
    import inspect
    src, start = inspect.getsourcelines(test_errors_in_decorated_functions_name_the_file_and_its_line)
    return start + next(n for n, text in enumerate(src) if "A[i] = undefined_name" in text)


def test_parse_takes_text():
    with pytest.raises(ParseError, match="takes the script as a string"):
        mlc.parse(42)
    with pytest.raises(ParseError, match="one @I.ir_module class or one @T.prim_func"):
        mlc.parse("x = 1\n")
