"""The jit examples run (at small sizes) and report what they promise."""
import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mlp_end_to_end_trains_and_matches_numpy():
    result = load("mlp_end_to_end").main(steps=150, verbose=False)
    assert result["kernels"] == 2
    assert result["test_accuracy_mlc"] == result["test_accuracy_numpy"] > 0.8
    assert result["max_abs_difference"] < 1e-5


def test_custom_operator_example():
    result = load("custom_operator").main(verbose=False)
    (kernel,) = result["kernels"]  # one kernel: matmul, bias and the custom activation
    assert kernel.startswith("fused_matmul_add_scaled_softplus")  # the name may get a suffix
    assert result["pattern"] == "elemwise"


@pytest.mark.parametrize("name", ["mlp_end_to_end", "custom_operator"])
def test_examples_print(name, capsys):
    module = load(name)
    module.main(**({"steps": 20} if name == "mlp_end_to_end" else {}))
    out = capsys.readouterr().out
    assert "@R.function" in out and "@T.prim_func" in out
