"""The op registry: registration rules, aliases, errors, and that every op is tested."""
import pathlib
import re

import numpy as np
import pytest

import mlc
from mlc import MLCError
from mlc.ops import PATTERNS, TensorType, get_op, list_ops, register_alias, register_op
from mlc.ops.registry import list_aliases
from mlc.ops.library import broadcast_shapes, result_type

from ._harness import TARGETS, check_op


@pytest.mark.parametrize("target", TARGETS)
def test_target_is_available(target):
    x = np.arange(6, dtype="float32").reshape(2, 3)
    check_op("add", [x, x[0]], x + x[0], targets=(target,))


def test_every_op_has_a_pattern_and_doc():
    for name in list_ops():
        op = get_op(name)
        # a user's mlc.op has no pattern until its first call infers one
        assert op.pattern in PATTERNS or (name.startswith("custom.") and op.pattern is None), name
        assert op.doc, f"{name} has no doc"


def test_every_op_is_exercised_by_a_differential_test():
    """Each registered name must appear as a string in some tests/ops test module."""
    here = pathlib.Path(__file__).parent
    text = "\n".join(p.read_text() for p in here.glob("test_*.py") if p.name != "test_registry.py")
    quoted = set(re.findall(r"""["']([a-z_.0-9]+)["']""", text))
    # ops registered at run time by tests (test.*) and by users (mlc.op: custom.*) are not the library's
    missing = [name for name in list_ops() if name not in quoted and not name.startswith(("test.", "custom."))]
    assert not missing, f"ops without tests: {missing}"


def test_register_op_rules():
    with pytest.raises(MLCError, match="pattern must be one of"):
        register_op("test.bad_pattern", pattern="fancy", infer=None, lower=None, reference=None)
    with pytest.raises(MLCError, match="already registered"):
        get_op("add")
        register_op("add", pattern="elemwise", infer=None, lower=None, reference=None)
    with pytest.raises(MLCError, match="already registered"):
        register_alias("divide", "add")
    with pytest.raises(MLCError, match="unknown op"):
        register_alias("test.alias", "no_such_op")


def test_unknown_op_suggests_similar_names():
    with pytest.raises(MLCError, match="unknown op 'softmax'; similar: nn.log_softmax, nn.softmax"):
        get_op("softmax")


def test_user_defined_op_goes_through_the_same_path():
    from mlc import te

    def lower(x):
        return te.compute(x.shape, lambda *i: x[i] * 3 + 1, name="triple_plus_one")

    if "test.triple_plus_one" not in list_ops():
        register_op("test.triple_plus_one", pattern="elemwise", infer=lambda t: t, lower=lower,
                    reference=lambda a: a * 3 + 1, doc="3x + 1")
    x = np.arange(5, dtype="int32")
    check_op("test.triple_plus_one", [x], x * 3 + 1)


def test_tracer_helpers():
    assert broadcast_shapes((2, 1), (1, 3), ()) == (2, 3)
    assert broadcast_shapes() == ()
    assert result_type("int8", "uint8", "float16") == np.result_type(np.int8, np.uint8, np.float16).name
    with pytest.raises(mlc.DTypeError):
        result_type()
    assert get_op("matmul").infer(TensorType((3,), "float32"), TensorType((3,), "float32")).shape == ()


def _documented_ops() -> dict[str, str]:
    """op name (or alias) -> pattern, as the table in docs/ops.md lists them (see its conventions)."""
    text = (pathlib.Path(__file__).parents[2] / "docs" / "ops.md").read_text()
    table = text.split("\n## Ops\n", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) != 3 or cells[0] == "module" or cells[1].startswith("---"):
            continue
        ops, pattern = cells[1], cells[2]
        ops = re.sub(r"`[^`]*`", " ", ops)                   # notes
        ops = re.sub(r"(?<=[\w.])\([^)]*\)", " ", ops)      # name(attributes) -> name
        for token in re.sub(r"[(),]", " ", ops).split():   # (aliases) -> aliases
            stem, sep, tails = token.rpartition("_")
            names = [f"{stem}_{t}" for t in tails.split("/")] if sep and "/" in tails else [token]
            for name in names:
                assert re.fullmatch(r"[a-z_.0-9]+", name), f"docs/ops.md: {name!r} is not an op name"
                documented[name] = pattern
    return documented


def test_docs_list_exactly_the_registered_ops_with_their_patterns():
    documented = _documented_ops()
    aliases = list_aliases()
    registered = {n for n in list_ops() if not n.startswith(("test.", "custom."))}
    assert set(documented) - registered - set(aliases) == set(), "documented but not registered"
    assert registered - set(documented) == set(), "registered but not in docs/ops.md"
    assert set(aliases) - set(documented) == set(), "aliases missing from docs/ops.md"
    for name, pattern in documented.items():
        assert get_op(name).pattern == pattern, f"docs/ops.md says {name} is {pattern}"


def test_mlc_numpy_exposes_every_elementwise_numpy_ufunc_of_the_registry():
    """The registry is the one list: each of its ufunc ops is mlc.numpy.<name> and traces as np.<name>."""
    import mlc.numpy as mnp
    for name in list(list_ops()) + list(list_aliases()):
        ufunc = getattr(np, name, None)
        if isinstance(ufunc, np.ufunc) and ufunc.nin <= 2 and get_op(name).pattern in ("elemwise", "broadcast"):
            assert callable(getattr(mnp, name, None)), f"mlc.numpy has no {name}"
            assert mnp.UFUNCS[ufunc.__name__] is getattr(mnp, ufunc.__name__)


def test_docs_list_exactly_what_mlc_numpy_exports():
    """docs/ops.md's ``mlc.numpy`` section lists ``mlc.numpy.__all__`` (besides the dispatch tables)."""
    import mlc.numpy as mnp
    text = (pathlib.Path(__file__).parents[2] / "docs" / "ops.md").read_text()
    section = text.split("## `mlc.numpy`", 1)[1]
    listed = section.split("```", 2)[1].split()
    assert listed == sorted(listed), "docs/ops.md: keep the mlc.numpy list sorted"
    exported = set(mnp.__all__) - {"UFUNCS", "FUNCTIONS", "NUMPY_FUNCTIONS", "REFUSED"}
    assert set(listed) - exported == set(), "listed in docs/ops.md but not exported by mlc.numpy"
    assert exported - set(listed) == set(), "exported by mlc.numpy but not listed in docs/ops.md"
    for name in exported:
        assert hasattr(mnp, name), name
