"""mlc.numpy: functions generated from the op registry, and the Tracer methods it attaches."""
