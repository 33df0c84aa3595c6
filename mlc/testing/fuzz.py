"""Random NumPy programs, run under ``mlc.jit`` and by NumPy, compared value and dtype.

A program is Python source over NumPy (``np.sum(np.maximum(a, b) * 3, axis=0)``), drawn
from a seeded :class:`random.Random`: elementwise ufuncs (arithmetic, comparisons,
logical and bitwise ops, ``where``), Python scalars of every kind (weak, as NEP 50 says),
``astype``, broadcasting between arrays of different ranks, and reductions (``sum``,
``prod``, ``max``, ``min``, ``mean``, ``any``, ``all``, ``argmax``) over an axis or all,
on arrays of bool, small integers (int8, uint8, int16, uint16), int32, int64 and floats.
Small integer values keep float results exact, so a float result is compared with a
tight tolerance; integers and bools exactly, wrap-around included.

A program NumPy refuses (``np.subtract`` of bools, ``-`` of a bool array), or that divides
by zero (an integer's reciprocal of 0 is whatever the C division gives), is skipped; one
mlc refuses, or computes differently, is a :class:`Mismatch` carrying its source, inputs
and the difference. Where a program calls a rounded math function (``exp``, ``sin``, ...,
whose last bit differs between libms and may then move a ``floor`` or a comparison) only
the result's dtype and shape are compared. ``tools/fuzz.py`` runs many; ``tests/test_fuzz_numpy_programs.py`` a
few, seeded, on llvm and the CUDA emulator.

>>> import random
>>> p = program(random.Random(0))
>>> sorted(p.inputs) == sorted(p.arrays(random.Random(0)))
True
"""
from __future__ import annotations

import linecache
import random
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import numpy as _numpy  # noqa: F401 - gives traced arrays their methods before jit traces
from ..errors import MLCError
from ..tracer.jit import jit

__all__ = ["Program", "Mismatch", "program", "run_program", "defined", "DTYPES", "SKIPPED"]

#: What :func:`run_program` returns for a program NumPy refuses.
SKIPPED = "skipped"

#: Input dtypes, small integers and bool weighted up (their promotion rules are the subtle ones).
DTYPES = ("bool", "bool", "int8", "int8", "uint8", "uint8", "int16", "uint16", "int32", "int64",
          "float32", "float64")
#: Binary ufuncs, by the kinds of operand they take ("any": every dtype NumPy accepts).
BINARY = ("add", "subtract", "multiply", "maximum", "minimum", "equal", "not_equal", "less", "greater_equal",
          "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "true_divide",
          "fmax", "fmin", "floor_divide", "remainder", "power", "left_shift", "right_shift", "heaviside",
          "copysign", "arctan2", "hypot", "logaddexp", "float_power", "greater", "less_equal")
OPERATORS = ("+", "-", "*", "&", "|", "^", "<", "==")
UNARY = ("negative", "absolute", "logical_not", "square", "invert", "sign", "positive", "conjugate", "conj",
         "floor", "ceil", "trunc", "rint", "fabs", "sqrt", "exp", "reciprocal", "signbit", "isnan", "isfinite",
         "cbrt", "sin")
REDUCTIONS = ("sum", "prod", "max", "min", "mean", "any", "all", "argmax", "argmin", "std", "var",
              "count_nonzero")
SCALARS = ("True", "False", "0", "1", "2", "3", "-1", "7", "0.5", "2.5", "-1.5")
ASTYPE = ("bool", "int8", "uint8", "int16", "int32", "float32")
#: Functions whose results are rounded differently by different math libraries.
ROUNDED = ("exp", "sin", "sqrt", "cbrt", "arctan2", "hypot", "logaddexp", "float_power", "power", "std")
#: Relative tolerance of a float result computed from small integers with exact operations
#: (sums in another order, a float16 intermediate).
RTOL = {"float16": 1e-3, "float32": 1e-5, "float64": 1e-9}


@dataclass(frozen=True)
class Program:
    """``source``: a lambda over ``inputs`` (names), with their shapes and dtypes."""
    source: str
    inputs: dict = field(default_factory=dict)  # name -> (shape, dtype)

    @property
    def rounded(self) -> bool:
        """Whether the program calls a function of :data:`ROUNDED`."""
        return any(f"np.{name}(" in self.source for name in ROUNDED)

    def function(self):
        return eval(self.source, {"np": np})  # the generator's own text, never a user's

    def arrays(self, rng: random.Random) -> dict:
        """Inputs of small values: bools, and integers in [-4, 4] ([0, 6] unsigned)."""
        out = {}
        for name, (shape, dtype) in self.inputs.items():
            gen = np.random.default_rng(rng.getrandbits(32))
            if dtype == "bool":
                out[name] = gen.random(shape) < 0.5
            elif dtype.startswith("u"):
                out[name] = gen.integers(0, 7, shape).astype(dtype)
            else:
                out[name] = gen.integers(-4, 5, shape).astype(dtype)
        return out


@dataclass(frozen=True)
class Mismatch:
    """A program whose mlc result differs from NumPy's (or that mlc refused): a
    :class:`Program`, or a function body of :mod:`.fuzz_statements` (its source a ``def f``)."""
    program: Program
    target: str
    what: str
    inputs: dict

    def __str__(self) -> str:
        args = ", ".join(f"{k}=np.array({v.tolist()!r}, {v.dtype.name!r})" for k, v in self.inputs.items())
        source = self.program.source
        shown = source.rstrip("\n") if source.startswith("def ") else f"    f = {source}"
        return f"[{self.target}] {self.what}\n{shown}\n    f({args})"


class _Gen:
    def __init__(self, rng: random.Random, max_depth: int, unary: tuple[str, ...]):
        self.rng, self.max_depth, self.unary = rng, max_depth, unary
        ndim = rng.choice((1, 2, 2, 3))
        self.shape = tuple(rng.choice((1, 2, 3, 5)) for _ in range(ndim))
        self.inputs: dict = {}

    def leaf(self) -> str:
        r = self.rng
        if r.random() < 0.2:
            return r.choice(SCALARS)
        if self.inputs and r.random() < 0.5:
            return r.choice(list(self.inputs))
        name = "abcdefgh"[len(self.inputs)] if len(self.inputs) < 8 else r.choice(list(self.inputs))
        if name not in self.inputs:
            # broadcasting: a trailing part of the shape, or size-1 axes
            shape = list(self.shape[r.randint(0, len(self.shape) - 1):]) if r.random() < 0.3 else list(self.shape)
            shape = [1 if r.random() < 0.2 else s for s in shape]
            self.inputs[name] = (tuple(shape), r.choice(DTYPES))
        return name

    def expr(self, depth: int) -> str:
        r = self.rng
        if depth >= self.max_depth or r.random() < 0.25:
            return self.leaf()
        pick = r.random()
        if pick < 0.35:
            return f"np.{r.choice(BINARY)}({self.expr(depth + 1)}, {self.expr(depth + 1)})"
        if pick < 0.55:
            return f"({self.expr(depth + 1)} {r.choice(OPERATORS)} {self.expr(depth + 1)})"
        if pick < 0.7:
            return f"np.{r.choice(self.unary)}({self.expr(depth + 1)})"
        if pick < 0.8:
            return f"np.where({self.expr(depth + 1)}, {self.expr(depth + 1)}, {self.expr(depth + 1)})"
        if pick < 0.88:
            return f"np.astype({self.expr(depth + 1)}, {r.choice(ASTYPE)!r})"
        axis = r.choice(("None", "0", "-1"))
        op = r.choice(REDUCTIONS + ("cumsum", "cumprod"))
        if op in ("cumsum", "cumprod") and axis == "None":
            axis = "-1"
        return f"np.{op}({self.expr(depth + 1)}, axis={axis})"


def program(rng: random.Random, max_depth: int = 3, unary: tuple[str, ...] = UNARY) -> Program:
    """One random program (at least one array input), its unary ufuncs drawn from ``unary``."""
    gen = _Gen(rng, max_depth, unary)
    body = gen.expr(0)
    if not gen.inputs:
        body = f"({body} + {gen.leaf()})" if rng.random() < 0.5 else f"({gen.leaf()} * {body})"
    while not gen.inputs:
        body = f"({body} + {gen.leaf()})"
    names = list(gen.inputs)
    return Program(f"lambda {', '.join(names)}: {body}", dict(gen.inputs))


def _numpy(fn, arrays: dict):
    with warnings.catch_warnings(), np.errstate(all="ignore", divide="raise"):
        warnings.simplefilter("ignore")
        try:
            return np.asarray(fn(**arrays)), None
        except (TypeError, ValueError, AttributeError, ArithmeticError, np.exceptions.DTypePromotionError) as err:
            return None, err


def host_array(x) -> np.ndarray:
    """``x`` as a NumPy array; a device array (CuPy's, whose implicit conversion is refused)
    is copied to the host with its ``get()``.

    >>> host_array([1, 2]).tolist()
    [1, 2]
    """
    if not isinstance(x, np.ndarray) and callable(getattr(x, "get", None)) and hasattr(x, "__cuda_array_interface__"):
        x = x.get()
    return np.asarray(x)


def defined(source: str, name: str, tag: str, namespace=np):
    """The function ``name`` that the generated ``source`` defines (``np`` naming
    ``namespace``), compiled under a file name of its own (``tag`` and the source's hash) that
    ``linecache`` holds, so that ``inspect`` finds its source: the jit's control-flow
    conversion reads it.

    >>> defined("def f(x):\\n    return x + 1\\n", "f", "doc")(1)
    2
    """
    filename = f"<{tag}-{abs(hash((source, namespace.__name__)))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = {"np": namespace}
    exec(compile(source, filename, "exec"), scope)  # noqa: S102 - the generated program
    return scope[name]


def run_program(prog: Program, target: str, rng: random.Random) -> Mismatch | str | None:
    """Run ``prog`` under ``mlc.jit(target=target)`` and with NumPy on drawn inputs: None when
    they agree, :data:`SKIPPED` when NumPy refuses the program (or its result is not an array
    of bool, int or float), else the :class:`Mismatch`."""
    arrays = prog.arrays(rng)
    fn = prog.function()
    want, refused = _numpy(fn, arrays)
    if refused is not None or want.dtype.kind not in "biuf" or want.size > 10_000:
        return SKIPPED
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = host_array(jit(fn, target=target, tiered=False)(**{k: v.copy() for k, v in arrays.items()}))
    except MLCError as err:
        return Mismatch(prog, target, f"mlc refused what NumPy computes ({want.dtype}{want.shape}): "
                                      f"{type(err).__name__}: {str(err).splitlines()[0]}", arrays)
    if got.dtype != want.dtype or got.shape != want.shape:
        return Mismatch(prog, target, f"result {got.dtype}{got.shape}, NumPy's {want.dtype}{want.shape}", arrays)
    if prog.rounded:
        return None
    if want.dtype.kind == "f":
        equal = np.allclose(got, want, rtol=RTOL[want.dtype.name], atol=0, equal_nan=True)
    else:
        equal = np.array_equal(got, want)
    if not equal:
        return Mismatch(prog, target, f"values differ: {got.tolist()!r} != NumPy's {want.tolist()!r}", arrays)
    return None
