"""The math routines :mod:`..lower_math` writes calls out as: float TIR built by
:class:`.float_ops.FloatOps`, one module per family (:mod:`.inverse_trig`: atan, asin,
acos, atan2)."""
