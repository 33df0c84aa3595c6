"""Random small programs of NumPy's in-place semantics (rebinding, ``x[i] += c``, ``x[1:] *= c``,
aliases ``y = x``, views, swaps, under traced ``if``s and compiled ``for``/``while`` loops), run
by NumPy and under ``mlc.jit``: the results and the caller's arrays after the call must be
NumPy's exactly, or the trace refuses the program with a TraceError (never a wrong answer)."""
import re
import textwrap

import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.errors import TraceError
from mlc.testing.fuzz import defined

NAMES = ("a", "b", "c")
SCALARS = ("s", "q")


def _indent(lines):
    return ["    " + line for line in lines]


@st.composite
def _expr(draw):
    y, z = draw(st.sampled_from(NAMES)), draw(st.sampled_from(NAMES))
    k = draw(st.integers(1, 3))
    return draw(st.sampled_from([f"{y} * 0.5 + {k}", f"np.minimum({y}, {z}) + {k}", f"np.abs({y} - {z})",
                                 f"{y}[::-1] * 1.0"]))


@st.composite
def _cond(draw):
    x, y = draw(st.sampled_from(NAMES)), draw(st.sampled_from(NAMES))
    k = draw(st.integers(-1, 4))
    return draw(st.sampled_from([f"{x}[0] > {y}[1]", f"{x}.max() > {k}", f"v[0] > {k}", f"{x}[1] > {k}",
                                 f"{x}.max() > 100"]))  # (the last false when it runs: the name kept)


@st.composite
def _write(draw, body):
    """A write into a name the control flow before it rebinds (where there is one)."""
    rebound = [n for n in NAMES if any(re.match(rf"\s*({n} =|{n}, \w+ =|\w+, {n} =)", line) for line in body)]
    x, k = draw(st.sampled_from(rebound or NAMES)), draw(st.integers(1, 3))
    return [draw(st.sampled_from([f"{x}[{draw(st.integers(0, 2))}] += {k}", f"{x}[1:] *= -1.0", f"v[0] += {k}",
                                  f"np.add({x}, {k}, out={x})"]))]


@st.composite
def _block(draw, depth):
    return [line for _ in range(draw(st.integers(1, 3))) for line in draw(_statement(depth))]


@st.composite
def _statement(draw, depth):
    simple = ["rebind", "add_at", "scale_tail", "alias", "flip_view", "swap", "view_add", "view_rebind",
              "view_scale", "out", "scalar", "scalar"]
    # the top level mostly control flow, the blocks inside mostly rebindings (what NumPy's names follow)
    control = ["if", "for", "for", "for_traced", "while"]
    kinds = (control if depth == 0 else
             simple + ["rebind", "alias", "if", "if", "if", "if"] if depth == 1 else simple + ["rebind"])
    kind = draw(st.sampled_from(kinds))
    x, y = draw(st.sampled_from(NAMES)), draw(st.sampled_from(NAMES))
    k = draw(st.integers(1, 3))
    i = draw(st.integers(0, 2))
    if kind == "rebind":
        return [f"{x} = {draw(_expr())}"]
    if kind == "add_at":
        return [f"{x}[{i}] += {k}"]
    if kind == "scale_tail":
        return [f"{x}[1:] *= {draw(st.sampled_from(['0.5', '-1.0']))}"]
    if kind == "alias":
        return [f"{x} = {y}"]
    if kind == "flip_view":
        return [f"{x} = {y}[::-1]"]
    if kind == "swap":
        return [f"{x}, {y} = {y}, {x}"] if x != y else [f"{x} = {y}"]
    if kind == "view_add":
        return [f"v[0] += {k}"]
    if kind == "view_rebind":
        return [f"v = {x}[1:]"]
    if kind == "view_scale":
        return ["v *= 0.5"]
    if kind == "out":
        return [f"np.add({x}, {k}, out={x})"]
    if kind == "scalar":  # NumPy scalars (immutable: += rebinds) and 0-d arrays (written in place)
        z = draw(st.sampled_from(SCALARS))
        return [draw(st.sampled_from([f"{z} += {k}", f"{z} *= 0.5", "q = s", "s = q", f"s = {x}[{i}]",
                                      f"q = {x}.sum()", f"s = np.array({x}[{i}])", "q = np.zeros(())",
                                      f"{x}[{i}] += {z}", f"s = np.float64({k})"]))]
    body = draw(_block(depth + 1))
    if kind == "if":
        lines = [f"if {draw(_cond())}:"] + _indent(body)
        if draw(st.booleans()):
            lines += ["else:"] + _indent(draw(_block(depth + 1)))
        return lines
    if kind == "for":
        return [f"for t{depth} in range({draw(st.sampled_from([2, 10]))}):"] + _indent(body)
    if kind == "for_traced":
        return [f"for t{depth} in range(m):"] + _indent(body)
    return [f"w{depth} = 0", f"while w{depth} < m:"] + _indent(body + [f"w{depth} += 1"])


@st.composite
def programs(draw):
    """The source of ``def prog(a, b, m)``: ``c`` and ``v`` names of ``a``'s and ``b``'s arrays
    (or copies), ``s`` and ``q`` of a NumPy scalar or a 0-d array, a few statements, and every
    name returned."""
    start = [draw(st.sampled_from(["c = a", "c = a * 1.0"])),
             draw(st.sampled_from(["v = b[1:]", "v = b[1:] * 1.0", "v = c[1:] * 1.0"])),
             draw(st.sampled_from(["s = a[0]", "s = np.array(a[0])"])), "q = s"]
    body = draw(st.sampled_from([[], draw(_statement(1))]))  # (a statement, then control flow)
    body += draw(_statement(0))
    body += draw(_write(body))  # a write last: it reaches the arrays the names hold after the control flow
    return "\n".join(["def prog(a, b, m):"] + _indent(start + body + ["return a, b, c, v, s, q"])) + "\n"


def _function(source: str):
    """``prog`` defined from ``source``, its source readable (the jit rewrites its control flow)."""
    return defined(source, "prog", "alias-program")


def _arguments(n, seed, m):
    rng = np.random.default_rng(seed)
    return [rng.integers(-3, 4, n).astype(np.float64), rng.integers(-3, 4, n).astype(np.float64), np.int64(m)]


def _check(source, fn, args, tiered):
    theirs = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    expected = fn(*theirs)
    jitted = mlc.jit(fn, tiered=tiered)
    for call in range(1 if not tiered else 2):  # tiered: the first call eager, a later one compiled
        ours = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
        try:
            got = jitted(*ours)
        except TraceError:
            return  # refused (a pattern a trace cannot follow): never a wrong answer
        where = f"\n{source}\nargs={args} tiered={tiered} call={call}"
        for g, e, what in zip(got, expected, "abcvsq"):
            np.testing.assert_array_equal(g, e, err_msg=f"returned {what}{where}")
        for o, t, what in zip(ours, theirs, "ab"):
            np.testing.assert_array_equal(o, t, err_msg=f"caller's {what} after the call{where}")


@settings(max_examples=30, deadline=None)
@given(source=programs(), n=st.sampled_from([3, 4]), seed=st.integers(0, 3), m=st.integers(0, 3),
       tiered=st.booleans())
def test_random_in_place_programs_match_numpy(source, n, seed, m, tiered):
    _check(source, _function(source), _arguments(n, seed, m), tiered)


def test_the_program_generator_writes_readable_programs():
    source = textwrap.dedent("""\
        def prog(a, b, m):
            c = a
            v = b[1:]
            s = a[0]
            q = s
            for t0 in range(10):
                if c[0] > 100:
                    c = c * 0.5 + 1
            c[0] += 1
            return a, b, c, v, s, q
        """)
    fn = _function(source)
    args = _arguments(4, 0, 2)
    _check(source, fn, args, tiered=False)
