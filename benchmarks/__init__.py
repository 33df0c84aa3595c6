"""Honest side-by-side benchmarks of mlc, NumPy and the optional peers (Numba, JAX, TVM).

``python -m benchmarks`` prints the machine (CPU, features, cores, measured fp32
FMA peak and copy bandwidth, NumPy's BLAS), then every workload with every
contender in one table: NumPy's fastest idiomatic spelling, mlc (``@mlc.jit``
and, where the workload is a te program, ``mlc.build``), and, when the ``bench``
extra is installed, Numba, JAX and Apache TVM, each with its first-call time.

- :mod:`.harness`   Workload, Contender, interleaved timing, the table, JSON
- :mod:`.workloads` the workloads and their contenders
- :mod:`.programs`  the computations as NumPy code (shared by NumPy, mlc.jit, JAX)
- :mod:`.machine`   CPU, FMA peak, copy bandwidth, BLAS
- :mod:`.startup`   import time and the MLP's first call, in fresh processes
- :mod:`.first_call_profile`  a workload's first call split into its compile stages
  (``python -m benchmarks.first_call_profile softmax``)
- :mod:`.first_calls`  first calls only, mlc's first tiers (compiled, eager) and JAX's
  interleaved in one process (``python -m benchmarks.first_calls softmax mlp``)
- :mod:`.numba_kernels`, :mod:`.tvm_kernels`  the peers' versions (imported only if installed)

Importing this package imports nothing else: ``python -m benchmarks --threads N``
must set the peers' thread counts before NumPy (OpenBLAS) or any peer loads.
"""
