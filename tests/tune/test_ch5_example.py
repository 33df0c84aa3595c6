"""The course's chapter 5 example runs at a small size and checks itself against NumPy."""
import importlib


def test_ch5_automatic_program_optimization(capsys, tmp_path):
    ch5 = importlib.import_module("examples.ch5_automatic_program_optimization")
    results = ch5.main(n=32, trials=4, random_trials=2, mlp_batch=4, work_dir=str(tmp_path), verbose=True)
    out = capsys.readouterr().out
    assert set(results) == {"hand schedule (jfactor 4)", "random search", "mlc.tune, stochastic_schedule_mm space",
                            "mlc.tune, CPU design space", "mlc default schedule", "NumPy", "MLP max |tuned - NumPy|"}
    assert "sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16, decision=" in out
    assert "=====Attempt 1, time-cost:" in out
    assert '"mlc.scheduled": "tuned"' in out              # the MLP's kernels came from the database
    assert results["MLP max |tuned - NumPy|"] < 1e-4
    assert (tmp_path / "auto" / "curve.png").exists() and (tmp_path / "mlp" / "database.sqlite").exists()
