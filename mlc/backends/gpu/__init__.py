"""What every GPU backend shares beside the GPU TIR pipeline (:mod:`mlc.passes.tir.gpu_pipeline`):
launch regions checked against the target's :class:`~mlc.target.DeviceLimits` (:mod:`.launch`) and the
emulator that runs lowered kernels on NumPy arrays with GPU semantics (:mod:`.emulator`).

A GPU backend is a renderer of the pipeline's kernels and a runtime; its target kind has
the ``"gpu"`` key and its limits (``tests/backends/test_second_gpu_backend.py`` adds one).
"""
