"""The schedule examples run, at small sizes, and check themselves against NumPy."""
import importlib

import pytest


def example(name):
    return importlib.import_module(f"examples.{name}")


def test_ch2_tensor_program_transformations(capsys):
    rows = dict(example("ch2_tensor_program_transformations").main(n=16, number=1, repeat=1, jfactors=(2, 4, 8)))
    out = capsys.readouterr().out
    for step in ("split j by 4", "reorder j0, k, j1", "reverse_compute_at C under j0",
                 "decompose_reduction of Y at k"):
        assert f"=== {step} ===" in out and f"-> {step}: matches NumPy" in out
    assert "sch.decompose_reduction(block=b0, loop=l3)" in out  # the trace is printed
    assert {"as written", "transform(mod, jfactor=8)", "course schedule + vectorize/unroll/parallel",
            "mlc default schedule", "NumPy (matmul, then maximum)"} <= set(rows)


@pytest.mark.parametrize("n", [16, 37])
def test_fast_matmul(n, capsys):
    times = example("fast_matmul").main(n=n, number=1, repeat=1, show_script=n == 16)
    assert set(times) == {"hand schedule", "default schedule", "NumPy"}
    out = capsys.readouterr().out
    assert f"matmul {n} x {n} x {n} float32" in out and "GFLOP/s" in out
    if n == 16:
        assert "B_global = T.alloc_buffer((1, 16, 16))" in out


def test_the_hand_schedule_is_a_replayable_trace():
    import mlc
    fast = example("fast_matmul")
    sch = mlc.Schedule(fast.matmul_module(20, 40, 12))
    fast.fast_schedule(sch)
    fresh = mlc.Schedule(fast.matmul_module(20, 40, 12))
    mlc.schedules.Trace.from_json(sch.trace.to_json()).apply(fresh)
    mlc.assert_structural_equal(fresh.mod, sch.mod)


def test_ch4_end_to_end(capsys):
    results = example("ch4_end_to_end").main(steps=60)
    out = capsys.readouterr().out
    assert set(results) == {"NumPy", "call_tir (course's MyModule)", "emit_te",
                            "env.linear library calls + relu0 TensorIR", "bound parameters"}
    assert len(set(results.values())) == 1 and results["NumPy"] > 0.6  # every variant agrees with NumPy
    assert "R.call_tir(linear0, (x, w0, b0), out_sinfo=R.Tensor((45, 16), \"float32\"))" in out
    assert 'R.call_dps_packed("env.linear", (x, w0, b0)' in out and "R.output(gv)" in out


def test_ch6_framework_integration(capsys):
    results = example("ch6_framework_integration").main(steps=60)
    out = capsys.readouterr().out
    assert {"NumPy", "BlockBuilder + emit_te", "ONNX import (mlc.frontend.from_onnx)"} <= set(results)
    assert len(set(results.values())) == 1 and results["NumPy"] > 0.6  # every variant agrees with NumPy
    assert 'R.call_tir(linear0, (x, w0, b0), out_sinfo=R.Tensor((45, 16), "float32"))' in out
    assert 'lv0 = R.nn.dense(x, metadata["c0"])' in out and "R.nn.relu(lv1)" in out


def test_ch9_graph_optimization(capsys):
    results = example("ch9_graph_optimization").main(steps=60)
    out = capsys.readouterr().out
    assert results["ewise_fma ops"] == ["custom.ewise_fma"]
    assert results["each op a call_tir"] == ["call_tir"] * 5
    assert results["dense+add fused ops"] == ["fused", "nn.relu", "fused"]
    assert results["mapped fused body ops"] == ["call_tir", "call_tir"]
    assert results["lowered ops"] == ["call_tir"] * 3
    assert results["FuseOps + FuseTIR ops"] == ["call_tir"] * 2
    assert results["test accuracy mlc"] == results["test accuracy NumPy"] > 0.6
    assert out.count("matches NumPy") == 7 and "def fused_dense_add(" in out


def test_ch8_tensorized_matmul(capsys):
    ch8 = example("ch8_tensorized_matmul")
    results = ch8.main(n=32)
    out = capsys.readouterr().out
    assert all(results.values()) and {"blockize", "caches", "tensorize", "vpdpbusd in the code"} <= set(results)
    assert 'vi_i_init, vj_i_init = T.axis.remap("SS", [i_1, j_1])' in out  # the init moved to matmul_o
    assert 'with T.block("matmul_o_update"):' in out and "for j in T.unroll(16):" in out
    assert 'T.call_extern("int32", "mlc_x86_vnni_dot_16x4_s8s8"' in out
    assert results["tensor cores"]  # run on the GPU, or on the emulator without one
    assert "-> tensor-core matmul 32^3 on " in out and "mlc_wmma_sync_16x16x16_f16f32" in out


@pytest.mark.skipif(not __import__("shutil").which("cc"), reason="no C compiler (cc) to export and serve with")
def test_deploy(tmp_path, capsys):
    result = example("deploy").main(str(tmp_path), steps=60)
    out = capsys.readouterr().out
    assert result["c_matches"] and result["python_matches"] and not result["python_imported_mlc"]
    assert result["accuracy"] > 0.6
    assert "void mlc_iris_main(const float *x, float *out0);" in out and "flower 0: class" in out


def test_train_mlp_reaches_95_percent_on_the_digits(tmp_path, capsys):
    history = example("train_mlp").main(plot=tmp_path / "mlp.png")  # the default run: 30 epochs
    out = capsys.readouterr().out
    assert history.accuracy >= 0.95 and len(history.losses) == 30
    assert history.losses[-1] < 0.1 * history.losses[0]
    assert "epoch  30  loss" in out and "test accuracy" in out
    assert (tmp_path / "mlp.png").read_bytes()[:4] == b"\x89PNG"


def test_train_cnn_learns_in_a_few_epochs(capsys):
    history = example("train_cnn").main(epochs=5, plot="")
    assert history.accuracy >= 0.9 and history.losses[-1] < 0.5 * history.losses[0]
    assert "small CNN on the digits: test accuracy" in capsys.readouterr().out
