"""Random NumPy *programs of statements*, run under ``mlc.jit`` and by NumPy, compared.

Where :mod:`.fuzz` draws one expression, this draws a function body as people write
NumPy: in-place updates of arguments, slices and views (``v = a[1:4]; v *= 2`` writes
into ``a``), overlapping slice copies (``a[1:5] = a[0:4]``), masked writes, ``out=``
arguments, element loops and loops whose slices move with the loop variable, ``if`` on
a traced value, a ``while`` loop with a traced condition, in-place sorts and cumulative
sums. Every argument the program writes into is compared after the call too, as NumPy
leaves it. A program NumPy refuses (a float written into an int array by ``+=``, an
index out of range) is skipped; one mlc refuses, or computes differently, is a
:class:`~.fuzz.Mismatch` carrying its source and inputs. ``tools/fuzz.py --statements`` runs
many; ``tests/test_fuzz_statement_programs.py`` a few, seeded.

>>> import random
>>> p = program(random.Random(0))
>>> p.source.startswith("def f(a, b, m):")
True
"""
from __future__ import annotations

import random
import warnings
from dataclasses import dataclass

import numpy as np

from .. import numpy as _numpy  # noqa: F401 - gives traced arrays their methods before jit traces
from ..errors import MLCError
from ..tracer.jit import jit
from .fuzz import SKIPPED, Mismatch, defined, host_array

__all__ = ["StatementProgram", "Mismatch", "program", "run_program", "SKIPPED"]

DTYPES = ("float64", "float64", "float32", "int64", "int64", "int32")
LENGTHS = (1, 2, 5, 8, 13)
SIDES = (1, 3, 4, 7)
RTOL = {"float32": 2e-5, "float64": 1e-11}


@dataclass(frozen=True)
class StatementProgram:
    """A function ``f(a, b, m)`` (source), its inputs' dtypes and shapes."""

    source: str
    dtypes: tuple[str, str, str]
    n: int
    shape: tuple[int, int]

    def function(self):
        """The program as a Python function whose source ``inspect`` finds (the jit's
        control-flow conversion reads it)."""
        return defined(self.source, "f", "mlc-fuzz-statements")

    def arrays(self, rng: random.Random) -> dict:
        """Inputs: small integer values (exact sums and products in every dtype)."""
        def draw(shape, dtype):
            size = int(np.prod(shape))
            return np.array([rng.randint(-4, 4) for _ in range(size)], dtype=dtype).reshape(shape)
        return {"a": draw((self.n,), self.dtypes[0]), "b": draw((self.n,), self.dtypes[1]),
                "m": draw(self.shape, self.dtypes[2])}


class _Gen:
    def __init__(self, rng: random.Random, n: int, shape: tuple[int, int]):
        self.rng, self.n, self.shape = rng, n, shape
        self.vectors = ["a", "b"]  # names of shape (n,)
        self.temps: list[str] = []
        self.scalars: list[str] = []
        self.lines: list[str] = []

    def const(self) -> str:
        return self.rng.choice(("1", "2", "3", "-1", "0.5", "2.0"))

    def int_const(self) -> str:
        return self.rng.choice(("0", "1", "2", "-1", "3"))

    def vec(self) -> str:
        return self.rng.choice(self.vectors)

    def window(self, length: int | None = None) -> tuple[str, int]:
        """A slice of a length-n vector (its text, its length), of ``length`` if given."""
        n, rng = self.n, self.rng
        step = rng.choice((1, 1, 1, 2, -1)) if length is None or length > 0 else 1
        if length is None:
            length = rng.randint(0, n)
        if step == 2 and 2 * length - 1 > n or length == 0:
            step = 1
        span = (length - 1) * abs(step) + 1 if length else 0
        lo = rng.randint(0, n - span) if span <= n else 0
        if step == -1:
            start = lo + span - 1
            stop = "" if lo == 0 else str(lo - 1)
            return f"{start}:{stop}:-1", length
        return f"{lo}:{lo + span}" + (f":{step}" if step != 1 else ""), length

    def value_of_length(self, length: int) -> str:
        rng = self.rng
        pick = rng.random()
        if pick < 0.25:
            return self.const()
        sl, _ = self.window(length)
        term = f"{self.vec()}[{sl}]"
        if pick < 0.5:
            return term
        return f"{term} * {self.const()}" if pick < 0.75 else f"np.maximum({term}, {self.int_const()})"

    def expression(self) -> str:
        """A length-n value."""
        x, y, c = self.vec(), self.vec(), self.const()
        return self.rng.choice((f"{x} * {c} + {y}", f"np.maximum({x}, {y})", f"{x}[::-1] - {c}",
                                f"np.where({x} > {self.int_const()}, {y}, {c})", f"np.abs({x}) + {y}.sum()",
                                f"np.cumsum({x})", f"np.sort({x})"))

    def statement(self, depth: int) -> list[str]:
        rng, n = self.rng, self.n
        kinds = ["assign_slice", "augment_slice", "element", "mask", "out", "view", "overlap",
                 "matrix", "reduce_into", "inplace_method"]
        if depth == 0:  # (a name bound in one branch only would be unbound after the other)
            kinds += ["temp", "if", "for_element", "for_window", "while", "for_break", "for_continue", "nested",
                      "while_reads", "random", "wrap"]
        kind = rng.choice(kinds)
        x = self.vec()
        if kind == "assign_slice":  # (from another array: see "overlap")
            sl, length = self.window()
            value = self.value_of_length(length)
            return [f"{x}[{sl}] = {value}"] if f"{x}[" not in value else [f"{x}[{sl}] += {value}"]
        if kind == "augment_slice":
            sl, length = self.window()
            return [f"{x}[{sl}] {rng.choice('+-*')}= {self.value_of_length(length)}"]
        if kind == "element":
            i, j = rng.randrange(n), rng.randrange(n)
            return [f"{x}[{i}] {rng.choice(('=', '+=', '*='))} {self.vec()}[{j}] + {self.const()}"]
        if kind == "mask":
            return [f"{x}[{self.vec()} {rng.choice('<>')} {self.int_const()}] {rng.choice(('=', '+='))} {self.const()}"]
        if kind == "out":
            fn = rng.choice(("add", "multiply", "maximum", "subtract"))
            return [f"np.{fn}({x}, {self.vec()}, out={x})"]
        if kind == "view":
            sl, _ = self.window()
            return [f"v = {x}[{sl}]", f"v {rng.choice('+-*')}= {self.const()}"]
        if kind == "overlap":
            # NumPy's plain copy between overlapping slices of different strides (a[0:7:2] =
            # a[0:4]) runs element by element, reading what it wrote; its ufuncs (+=) read
            # every input first. mlc does the latter for both: = copies only unit-stride windows.
            length = rng.randint(1, max(1, n - 1))
            op = rng.choice(("=", "+="))
            src, _ = self.window(length)
            dst, _ = self.window(length)
            if op == "=":
                src, dst = (f"{lo}:{lo + length}" for lo in (rng.randint(0, n - length), rng.randint(0, n - length)))
            return [f"{x}[{dst}] {op} {x}[{src}]"]
        if kind == "temp":
            name = f"t{len(self.temps)}"
            line = f"{name} = {self.expression()}"
            self.temps.append(name)
            self.vectors.append(name)
            return [line]
        if kind == "matrix":
            r, c = self.shape
            i, j = rng.randrange(r), rng.randrange(c)
            options = [f"m[{i}, :] {rng.choice(('=', '+='))} {self.const()}",
                       f"m[:, {j}] *= {self.const()}",
                       f"m[{i}:, {j}:] += {self.const()}",
                       f"m[{i}] = m[{rng.randrange(r)}] + {self.const()}",
                       "m += m.sum(axis=0)",
                       "m[::-1] = m.copy()"]
            if n >= c:
                options.append(f"m[{i}, :] = {x}[:{c}]")
                options.append(f"m += {x}[{n - c}:]")
            if n >= r:
                options.append(f"m[:, {j}] += {x}[:{r}]")
            return [rng.choice(options)]
        if kind == "reduce_into":
            i = rng.randrange(n)
            src = rng.choice(("m.sum()", f"{self.vec()}.max()", "m[:, 0].min()", f"{self.vec()}.sum()"))
            return [f"{x}[{i}] = {src}"]
        if kind == "inplace_method":
            return [rng.choice((f"{x}.sort()", f"np.cumsum({x}, out={x})", f"{x}.fill({self.const()})",
                                f"np.copyto({x}, {self.vec()})", f"{x}[...] = {x}[::-1]"))]
        if kind == "if":
            test = rng.choice((f"{x}.sum() > {self.int_const()}", f"{x}[0] < {self.vec()}[{n - 1}]",
                               f"np.any({x} > 2)"))
            body = ["    " + s for s in self.statement(1)]
            other = ["    " + s for s in self.statement(1)] if rng.random() < 0.6 else []
            return [f"if {test}:"] + body + (["else:"] + other if other else [])
        if kind == "for_element":
            y = self.vec()
            return [f"for i in range(1, {n}):",
                    f"    {x}[i] = {x}[i - 1] * {rng.choice(('1', '0.5', '-1'))} + {y}[i]"]
        if kind == "for_window":
            w = rng.randint(1, n)
            y = self.vec()
            acc = f"s{len(self.scalars)}"
            self.scalars.append(acc)
            return [f"{acc} = 0",
                    f"for i in range({n - w + 1}):",
                    f"    {x}[i:i + {w}] {rng.choice('+*')}= {y}[:{w}] * {self.const()}",
                    f"    {acc} = {acc} + {x}[i]"]
        if kind == "for_break":  # leaves the loop on a traced value
            return [f"for i in range({n}):",
                    f"    if {x}[i] {rng.choice('<>')} {self.int_const()}:",
                    "        break",
                    f"    {x}[i] += {self.vec()}[{n - 1} - i] * {self.const()}"]
        if kind == "for_continue":
            return [f"for i in range({rng.randint(0, 1)}, {n}):",
                    f"    if {self.vec()}[i] {rng.choice('<>')} {self.int_const()}:",
                    "        continue",
                    f"    {x}[i] = {x}[i] * {rng.choice(('2', '-1'))} + {self.vec()}[i - 1]"]
        if kind == "nested":  # a window that moves with both loops' variables
            y = self.vec()
            return [f"for i in range(1, {n}):",
                    "    for j in range(i):",
                    f"        {x}[j:i] {rng.choice(('+=', '-='))} {y}[i - j - 1]"]
        if kind == "while_reads":  # the condition reads an array the body writes
            return ["k = 0",
                    f"while {x}[0] < {rng.randint(0, 6)} and k < {rng.randint(1, 5)}:",
                    f"    {x}[0] += np.abs({self.vec()}[k % {n}]) + 1",
                    f"    {x}[{n - 1}] -= 1",
                    "    k += 1"]
        if kind == "random":  # a seeded Generator made in the function: NumPy's own numbers
            seed = rng.randint(0, 99)
            draw = rng.choice((f"rng.integers(-3, 4, size={n})", f"rng.permutation({n})",
                               f"rng.integers(0, 2, size={n}) * 2"))
            return [f"rng = np.random.default_rng({seed})", f"{x} += {draw}"]
        if kind == "wrap":  # small integer dtypes: products and sums wrap as NumPy's do
            name = f"t{len(self.temps)}"
            self.temps.append(name)
            dtype = rng.choice(("int8", "uint8", "int16", "uint16", "int32"))
            big = {"int8": 77, "uint8": 201, "int16": 20011, "uint16": 60001, "int32": 2**30 + 3}[dtype]
            return [f"{name} = {x}.astype(np.{dtype}) * np.{dtype}({big})",
                    f"{name} += np.{dtype}({big // 2})",
                    f"{name}[::2] *= {name}[::-1][::2]"]
        # while: a traced condition, bounded by a counter
        return ["k = 0",
                f"while k < {rng.randint(1, 4)} and {x}.sum() < {rng.randint(0, 40)}:",
                f"    {x} += {rng.choice(('1', '2', 'np.abs(' + self.vec() + ')'))}",
                "    k += 1"]


def program(rng: random.Random, statements: int = 5) -> StatementProgram:
    """One random program of ``statements`` statements (loops and ifs count as one)."""
    n = rng.choice(LENGTHS)
    shape = (rng.choice(SIDES), rng.choice(SIDES))
    dtypes = tuple(rng.choice(DTYPES) for _ in range(3)) if rng.random() < 0.3 else (rng.choice(DTYPES),) * 3
    gen = _Gen(rng, n, shape)
    body: list[str] = []
    for _ in range(statements):
        body += gen.statement(0)
    returned = ["a", "b", "m"] + gen.temps + gen.scalars
    source = "def f(a, b, m):\n" + "".join(f"    {line}\n" for line in body) + f"    return {', '.join(returned)}\n"
    return StatementProgram(source, dtypes, n, shape)


def _run_numpy(fn, arrays: dict):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return fn(**arrays), None
        except (TypeError, ValueError, IndexError, AttributeError, ArithmeticError,
                np.exceptions.DTypePromotionError) as err:
            return None, err


def _differs(got, want) -> str | None:
    got, want = host_array(got), np.asarray(want)
    if got.dtype != want.dtype or got.shape != want.shape:
        return f"{got.dtype}{got.shape}, NumPy's {want.dtype}{want.shape}"
    if want.dtype.kind == "f":
        equal = np.allclose(got, want, rtol=RTOL[want.dtype.name], atol=1e-6 if want.dtype == np.float32 else 1e-12,
                            equal_nan=True)
    else:
        equal = np.array_equal(got, want)
    return None if equal else f"{got.tolist()!r}, NumPy's {want.tolist()!r}"


def run_program(prog: StatementProgram, target: str, rng: random.Random) -> Mismatch | str | None:
    """Run ``prog`` under ``mlc.jit(target=target, tiered=False)`` and with NumPy on drawn
    inputs: None when results and written arguments agree, :data:`SKIPPED` when NumPy
    refuses it, else the :class:`Mismatch`."""
    arrays = prog.arrays(rng)
    fn = prog.function()
    mine = {k: v.copy() for k, v in arrays.items()}
    want, refused = _run_numpy(fn, mine)
    if refused is not None:
        return SKIPPED
    theirs = {k: v.copy() for k, v in arrays.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = jit(fn, target=target, tiered=False)(**theirs)
    except MLCError as err:
        first = str(err).splitlines()[0]
        return Mismatch(prog, target, f"mlc refused what NumPy runs: {type(err).__name__}: {first}", arrays)
    names = ["a", "b", "m"] + [f"result {k}" for k in range(len(want))]
    pairs = list(zip([theirs[k] for k in "abm"] + list(got), [mine[k] for k in "abm"] + list(want)))
    for name, (g, w) in zip(names, pairs):
        problem = _differs(g, w)
        if problem is not None:
            return Mismatch(prog, target, f"{name} differs: {problem}", arrays)
    return None
