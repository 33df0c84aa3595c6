"""The GPU's schedules: the default rules (:mod:`.default`), ops' hand-written functions as
GPU kernels (:mod:`.hand_written`) and the design space the tuner samples (:mod:`.space`),
all within the target's :class:`~mlc.target.DeviceLimits`."""
