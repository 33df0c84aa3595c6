"""Runtime: compiled modules and their callable functions."""
from .module import Function, Module, TimeResult

__all__ = ["Module", "Function", "TimeResult"]
