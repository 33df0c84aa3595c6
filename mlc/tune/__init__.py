"""Autotuning (placeholder while the package is assembled)."""
